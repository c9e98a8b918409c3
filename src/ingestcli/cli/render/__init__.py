"""Human output with rich (results on stdout, progress and errors on stderr), and JSON."""

"""The two Lambda functions. Each imports only `ingestcli.core` from the rest of the package
(the zip holds nothing else) and takes its clients and clock as parameters."""

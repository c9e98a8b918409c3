"""Lambda handlers. They import only `contract` and `validate` from the package."""

"""The provider API behind the function URL: presigned upload URLs and upload status."""

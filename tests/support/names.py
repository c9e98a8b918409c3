"""Names the tests give AWS resources: the test stack's, and one provider's one upload."""

from __future__ import annotations

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's account
STACK = "ingest-test"
LOCAL_ENDPOINT = "http://127.0.0.1:5000"  # only named, never called: moto runs in-process

# The resources of a stack named STACK, as the template names them.
BUCKET = "ingest-test-uploads-123456789012-us-east-1"
RECORDS = "ingest-test-records"
PROVIDERS = "ingest-test-providers"
UPLOADS = "ingest-test-uploads"

# One provider's one upload, and where the ingest Lambda puts what it makes of it.
PROVIDER = "acme"
UPLOAD_ID = "01J9ZQ4D3M7T2V8X6Y5W1K0PAB"
KEY = f"{PROVIDER}/uploads/2024/03/01/{UPLOAD_ID}.csv"
REPORT_KEY = f"{PROVIDER}/reports/{UPLOAD_ID}.json"
REJECTS_KEY = f"{PROVIDER}/rejects/{UPLOAD_ID}.csv"
CHECKPOINTS = f"{PROVIDER}/checkpoints/"

"""A local S3-compatible server (moto's standalone server on 127.0.0.1) holding an NSD folder,
and the pipeline config the check and fetch tests use."""

from __future__ import annotations

from pathlib import Path

BUCKET = "natural-scenes-dataset"

#: a pipeline config reading group atlases only (present in every synthetic folder)
CONFIG = """name: checkfetch
task: decoding
data: {space: fsaverage, density: fsaverage5, roi_atlas: nsdgeneral}
model: {name: ridge}
outputs: {roi: {atlases: [streams]}}
"""


class LocalBucket:
    """moto's threaded server with one public-read bucket; ``url`` is its endpoint."""

    def __init__(self):
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.server.start()
        host, port = self.server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        self.admin = self._admin_client()
        self.admin.create_bucket(Bucket=BUCKET)

    def _admin_client(self):
        import boto3

        session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                        region_name="us-east-1")
        return session.client("s3", endpoint_url=self.url)

    def put(self, key: str, body: bytes) -> None:
        """Upload (or replace) one object, readable anonymously like NSD's bucket."""
        self.admin.put_object(Bucket=BUCKET, Key=key, Body=body, ACL="public-read")

    def upload_folder(self, root: Path) -> list[str]:
        keys = []
        for path in sorted(Path(root).rglob("*")):
            if path.is_file():
                key = path.relative_to(root).as_posix()
                self.put(key, path.read_bytes())
                keys.append(key)
        return keys

    def etag(self, key: str) -> str:
        return self.admin.head_object(Bucket=BUCKET, Key=key)["ETag"]

    def stop(self) -> None:
        self.server.stop()

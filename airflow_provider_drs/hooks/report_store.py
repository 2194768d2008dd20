"""Run reports in S3, and the choice between S3 and the local folder.

``[drs] reports_location`` is either a folder or ``s3://bucket/prefix``; S3 is the choice when Celery
workers and the api-server do not share a disk. The S3 store uses the Amazon provider's S3 hook on
``[drs] reports_aws_conn_id`` (default ``aws_default``).
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlparse

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from botocore.exceptions import ClientError

from airflow_provider_drs.reports.storage import (
    LocalReportStore,
    ReportStore,
    StoredReport,
    checked_dag_id,
    report_name,
)

CONTENT_TYPES = {".json": "application/json", ".html": "text/html; charset=utf-8"}


class S3ReportStore(ReportStore):
    def __init__(self, url: str, aws_conn_id: str | None = "aws_default"):
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an S3 location: {url!r} (expected s3://bucket/prefix)")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.location = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.hook = S3Hook(aws_conn_id=aws_conn_id)

    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self.prefix, *parts) if p)

    def put(self, dag_id: str, run_id: str, suffix: str, text: str) -> str:
        key = self._key(checked_dag_id(dag_id), f"{report_name(run_id)}{suffix}")
        self.hook.get_conn().put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"),
                                        ContentType=CONTENT_TYPES.get(suffix, "text/plain"))
        return f"s3://{self.bucket}/{key}"

    def get(self, dag_id: str, run_id: str, suffix: str = ".json") -> str | None:
        key = self._key(checked_dag_id(dag_id), f"{report_name(run_id)}{suffix}")
        try:
            body = self.hook.get_conn().get_object(Bucket=self.bucket, Key=key)["Body"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return body.read().decode("utf-8")

    def dag_ids(self) -> list[str]:
        base = self._key("") + "/" if self.prefix else ""
        found = []
        for page in self.hook.get_conn().get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=base, Delimiter="/"):
            for common in page.get("CommonPrefixes", []):
                name = common["Prefix"][len(base):].rstrip("/")
                try:
                    found.append(checked_dag_id(name))
                except ValueError:
                    continue
        return sorted(found)

    def reports(self, dag_id: str) -> Iterator[StoredReport]:
        client = self.hook.get_conn()
        base = self._key(checked_dag_id(dag_id)) + "/"
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base, Delimiter="/"):
            for item in sorted(page.get("Contents", []), key=lambda i: i["Key"]):
                if not item["Key"].endswith(".json"):
                    continue
                try:
                    text = client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read().decode("utf-8")
                except ClientError:  # deleted between the listing and the read
                    continue
                yield StoredReport(f"s3://{self.bucket}/{item['Key']}", text, item["LastModified"])


def open_report_store(location: str | None = None, aws_conn_id: str | None = None) -> ReportStore:
    """The store at ``location``, else at ``[drs] reports_location``, else ``$AIRFLOW_HOME/drs_reports``."""
    if location is None:
        from airflow.providers.common.compat.sdk import conf

        location = conf.get("drs", "reports_location", fallback="") or None
        aws_conn_id = aws_conn_id or conf.get("drs", "reports_aws_conn_id", fallback="aws_default")
    if location and location.startswith("s3://"):
        return S3ReportStore(location, aws_conn_id or "aws_default")
    return LocalReportStore(location)

"""boto3 clients for the emulator's endpoint: everything the runtime does goes through the public API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from local_runtime.functions.lambda_runtime import FAKE_CREDENTIALS

# A function may run up to 15 minutes; an invocation must not time out on the client's side first.
_INVOKE_CONFIG = Config(read_timeout=900 + 60, retries={"total_max_attempts": 1})


@dataclass(frozen=True)
class Endpoint:
    url: str
    region: str

    def client(self, service: str, config: Config | None = None) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            config=config,
        )

    def lambda_client(self) -> Any:
        return self.client("lambda", _INVOKE_CONFIG)

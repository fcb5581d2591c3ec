"""boto3 / botocore failures -> our errors, with how to fix them (shared by the AWS price
fetch and the AWS inventory fetch). Nothing here touches the network."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from gpuladder.errors import DomainError, InputError

ACCESS_ERRORS = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation",
                           "UnrecognizedClientException", "InvalidClientTokenId", "AuthFailure", "ExpiredToken",
                           "ExpiredTokenException", "SignatureDoesNotMatch", "OptInRequired"})


@contextmanager
def aws_errors(what: str, permissions: str) -> Iterator[None]:
    """Translate botocore errors raised while doing ``what``; ``permissions`` names the IAM
    actions the call needs (said when AWS refuses access)."""
    from botocore.exceptions import (BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError,
                                     NoRegionError, PartialCredentialsError)

    try:
        yield
    except (NoCredentialsError, PartialCredentialsError):
        raise InputError(f"no AWS credentials found while {what}",
                         hint="configuring credentials (`aws configure`, AWS_PROFILE, or "
                              "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY).") from None
    except NoRegionError:
        raise InputError(f"no AWS region configured while {what}",
                         hint="passing --region R or setting AWS_DEFAULT_REGION.") from None
    except ClientError as exc:
        err = exc.response.get("Error", {})
        code, message = err.get("Code", "?"), err.get("Message", "")
        if code in ACCESS_ERRORS:
            raise DomainError(f"AWS refused access while {what} ({code}: {message}). You can fix this by "
                              f"using credentials allowed {permissions}.") from None
        raise DomainError(f"AWS error while {what} ({code}: {message})") from None
    except EndpointConnectionError as exc:
        raise DomainError(f"could not reach AWS while {what} ({exc}); check the network and the region name.") from None
    except BotoCoreError as exc:
        raise DomainError(f"AWS client error while {what} ({exc})") from None

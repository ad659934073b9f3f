"""LINE's error answers: ``{"message": ..., "details": [{"message", "property"}]}``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Detail:
    message: str
    property: str = ""


@dataclass
class LineError(Exception):
    status: int
    message: str
    details: list[Detail] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"message": self.message}
        if self.details:
            body["details"] = [{"message": d.message, "property": d.property} for d in self.details]
        return body


def bad_request(message: str, details: list[Detail] | None = None) -> LineError:
    return LineError(400, message, details or [])


def invalid_request(details: list[Detail]) -> LineError:
    """What LINE answers when message objects or parameters fail validation."""
    return LineError(400, f"The request body has {len(details)} error(s)", details)


UNAUTHORIZED = "Authentication failed. Confirm that the access token in the authorization header is valid."


def unauthorized() -> LineError:
    return LineError(401, UNAUTHORIZED)


def not_found(message: str = "Not found") -> LineError:
    return LineError(404, message)


def too_many_requests() -> LineError:
    return LineError(429, "The API rate limit has been exceeded. Try again later.")

"""Base of every record on a topic: versioned, immutable, orjson on the wire."""

from __future__ import annotations

from typing import Any, ClassVar, Self

import orjson
from pydantic import BaseModel, ConfigDict

# orjson writes UTC datetimes as "...Z" and passes dataclass/datetime natively.
_ORJSON_OPTIONS = orjson.OPT_UTC_Z


class Record(BaseModel):
    """A versioned record. Consumers ignore fields they do not know (forward compatible)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    #: Bumped on every incompatible change; every record carries ``schema_version``.
    SCHEMA_VERSION: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="python")

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="python"), option=_ORJSON_OPTIONS)

    @classmethod
    def from_bytes(cls, data: bytes | str) -> Self:
        return cls.model_validate(orjson.loads(data))


def dumps(value: Any) -> bytes:
    """orjson with the project's options, for dicts that are not records."""
    return orjson.dumps(value, option=_ORJSON_OPTIONS)

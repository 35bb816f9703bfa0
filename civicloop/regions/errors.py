"""Stable machine-readable error codes of the regions domain."""

from __future__ import annotations

from enum import StrEnum

from civicloop.lib.errors import DomainError


class Code(StrEnum):
    NAME_INVALID = "region_name_invalid"
    LEVEL_INVALID = "region_level_invalid"
    KIND_INVALID = "region_kind_invalid"
    PARENT_REQUIRED = "region_parent_required"
    PARENT_NOT_ALLOWED = "region_parent_not_allowed"
    LEVEL_MISMATCH = "region_level_mismatch"
    CODE_INVALID = "region_code_invalid"
    CODE_PREFIX = "region_code_prefix"
    CODE_DUPLICATE = "region_code_duplicate"
    GEOMETRY_INVALID = "region_geometry_invalid"
    CENTRE_INVALID = "region_centre_invalid"
    POINT_INVALID = "region_point_invalid"
    IMPORT_FILE_INVALID = "region_import_file_invalid"
    FEATURE_INVALID = "region_feature_invalid"
    FEATURE_DUPLICATE = "region_feature_duplicate"
    PARENT_UNKNOWN = "region_parent_unknown"


class RegionError(DomainError):
    """Bad input for a regions service: a `Code` plus a Chinese message for people."""

    status = 422

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)

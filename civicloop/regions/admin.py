"""Admin for regions. Saving goes through the services, so the admin obeys the same rules as
imports: codes, levels, parents and boundaries are checked, and paths are computed."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from civicloop.regions import services
from civicloop.regions.errors import Code, RegionError
from civicloop.regions.models import Region
from civicloop.regions.selectors import region_get, towns

# The form field that shows each error.
ERROR_FIELDS = {
    Code.NAME_INVALID: "name",
    Code.LEVEL_INVALID: "level",
    Code.KIND_INVALID: "kind",
    Code.PARENT_REQUIRED: "parent",
    Code.PARENT_NOT_ALLOWED: "parent",
    Code.LEVEL_MISMATCH: "level",
    Code.CODE_INVALID: "code",
    Code.CODE_PREFIX: "code",
    Code.CODE_DUPLICATE: "code",
    Code.GEOMETRY_INVALID: "boundary",
    Code.CENTRE_INVALID: "centre_lat",
}


class TownFilter(admin.SimpleListFilter):
    title = _("所属镇街")
    parameter_name = "town"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(town.code, town.name) for town in towns()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Region]) -> QuerySet[Region]:
        if not self.value():
            return queryset
        town = region_get(str(self.value()))
        return queryset.filter(path__startswith=town.path) if town else queryset.none()


class RegionForm(forms.ModelForm):
    class Meta:
        model = Region
        fields = ["code", "name", "level", "kind", "parent", "boundary", "centre_lat", "centre_lon"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            self._check(data)
        except RegionError as exc:
            field = ERROR_FIELDS.get(Code(exc.code), NON_FIELD_ERRORS)
            raise forms.ValidationError({field: exc.message}) from exc
        return data

    def _check(self, data: dict[str, Any]) -> None:
        if self.instance.pk is None:
            services.region_check(
                code=data["code"],
                name=data["name"],
                level=data["level"],
                kind=data["kind"],
                parent=data["parent"],
                boundary=data["boundary"],
                centre=self.centre(),
            )
        else:
            services.region_check_change(
                region=self.instance,
                name=data["name"],
                kind=data["kind"],
                boundary=data["boundary"],
                centre=self.centre(),
            )

    def centre(self) -> tuple[float, float] | None:
        """The centre typed in the form; None when it is empty or untouched on a change, so
        that the services compute it from the boundary."""
        lat, lon = self.cleaned_data.get("centre_lat"), self.cleaned_data.get("centre_lon")
        if lat is None or lon is None:
            return None
        if self.instance.pk and not {"centre_lat", "centre_lon"} & set(self.changed_data):
            return None
        return (lat, lon)


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    form = RegionForm
    list_display = ["name", "code", "level", "kind", "parent", "updated_at"]
    list_filter = ["level", "kind", TownFilter]
    search_fields = ["^code", "name"]
    list_select_related = ["parent"]
    autocomplete_fields = ["parent"]
    readonly_fields = ["path", "updated_at"]
    ordering = ["path"]
    list_per_page = 50

    def get_readonly_fields(self, request: HttpRequest, obj: Region | None = None) -> list[str]:
        # Code, level and parent make up the path of every region below: fixed once created.
        if obj is not None:
            return ["code", "level", "parent", *self.readonly_fields]
        return list(self.readonly_fields)

    def save_model(self, request: HttpRequest, obj: Region, form: Any, change: bool) -> None:
        data, centre = form.cleaned_data, form.centre()
        if not change:
            created = services.region_create(
                code=data["code"],
                name=data["name"],
                level=data["level"],
                kind=data["kind"],
                parent=data["parent"],
                boundary=data["boundary"],
                centre=centre,
            )
            obj.pk = created.pk
            obj.refresh_from_db()
            return
        services.region_update(region=obj, name=data["name"], kind=data["kind"])
        if {"boundary", "centre_lat", "centre_lon"} & set(form.changed_data):
            services.region_update_boundary(region=obj, boundary=data["boundary"], centre=centre)

"""HTML forms: they validate input and say in plain Chinese what to fix. Services decide."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from civicloop.accounts.models import MOBILE_RE, Organisation, User
from civicloop.cases.kpis import INDICATORS, Dimension, KpiFilters, Part, PeriodKind
from civicloop.cases.models import (
    Case,
    Category,
    ClosureReason,
    RejectReason,
    ReturnReason,
    Satisfaction,
    Source,
    SupervisionKind,
    Urgency,
)
from civicloop.cases.routing import Route
from civicloop.cases.selectors import get_case_for_user
from civicloop.cases.services import PhotoUpload
from civicloop.lib.errors import DomainError, NotFound
from civicloop.web.dashboard import OBJECTS, PERIODS, DashboardQuery

# ---------------------------------------------------------------- sign in


class MobileLoginForm(AuthenticationForm):
    """Django's login form with the mobile number as the user name."""

    username = forms.CharField(
        label=_("手机号"),
        max_length=11,
        widget=forms.TextInput(
            attrs={"autocomplete": "username", "inputmode": "numeric", "autofocus": True}
        ),
        error_messages={"required": _("请输入手机号")},
    )
    password = forms.CharField(
        label=_("密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        error_messages={"required": _("请输入密码")},
    )
    error_messages = {
        "invalid_login": _("手机号或密码不正确"),
        "inactive": _("该账号已停用，请联系管理员"),
    }

    def clean_username(self) -> str:
        mobile: str = self.cleaned_data["username"].strip()
        if not MOBILE_RE.match(mobile):
            raise ValidationError(_("请输入11位手机号码"), code="invalid_mobile")
        return mobile


# ---------------------------------------------------------------- photos


class MultiplePhotoInput(forms.ClearableFileInput):
    allow_multiple_selected = True

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"accept": "image/*", "data-photos": "", **(attrs or {})})


class PhotosField(forms.FileField):
    """Several photos in one input; content is checked by the service."""

    widget = MultiplePhotoInput

    def __init__(self, *, minimum: int = 0, required_message: Any = "", **kw: Any) -> None:
        self.minimum = minimum
        kw.setdefault("required", minimum > 0)
        super().__init__(**kw)
        if required_message:
            self.error_messages["required"] = required_message

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = [f for f in (data if isinstance(data, list | tuple) else [data]) if f]
        if len(files) < self.minimum:
            raise ValidationError(self.error_messages["required"], code="required")
        if len(files) > settings.PHOTO_MAX_COUNT:
            raise ValidationError(
                _("每次最多上传%(count)d张照片") % {"count": settings.PHOTO_MAX_COUNT},
                code="too_many",
            )
        for upload in files:
            _check_size(upload)
        return files


def _check_size(upload: UploadedFile) -> None:
    limit = settings.PHOTO_MAX_BYTES
    if not upload.size:
        raise ValidationError(_("照片“%(name)s”是空文件，请重新选择") % {"name": upload.name})
    if upload.size > limit:
        raise ValidationError(
            _("照片“%(name)s”超过%(mb)dMB，请压缩后再上传")
            % {"name": upload.name, "mb": limit // (1024 * 1024)}
        )


def photo_uploads(files: Sequence[UploadedFile]) -> list[PhotoUpload]:
    return [PhotoUpload(name=f.name or "photo", data=f.read()) for f in files]


# ---------------------------------------------------------------- reporting

_LOCATION_REQUIRED = _("请在地图上点选问题位置，或点“使用当前位置”")


class CategoryField(forms.ModelChoiceField):
    def __init__(self, **kw: Any) -> None:
        super().__init__(
            queryset=Category.objects.filter(is_active=True, parent__isnull=False),
            label=_("问题分类"),
            error_messages={
                "required": _("请选择问题分类"),
                "invalid_choice": _("请选择有效的问题分类"),
            },
            **kw,
        )


def _coordinate(label: Any, low: float, high: float) -> forms.FloatField:
    return forms.FloatField(
        label=label,
        min_value=low,
        max_value=high,
        widget=forms.HiddenInput,
        error_messages={
            "required": _LOCATION_REQUIRED,
            "invalid": _LOCATION_REQUIRED,
            "min_value": _("坐标无效，请重新选择位置"),
            "max_value": _("坐标无效，请重新选择位置"),
        },
    )


class LocatedForm(forms.Form):
    lat = _coordinate(_("纬度"), -90, 90)
    lon = _coordinate(_("经度"), -180, 180)
    address = forms.CharField(
        label=_("详细地址（选填）"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": _("如：孝子祠社区北门菜场旁")}),
        error_messages={"max_length": _("地址不能超过200字")},
    )
    category = CategoryField()
    description = forms.CharField(
        label=_("问题描述"),
        max_length=2000,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": _("发生了什么？在哪里？持续多久了？")}
        ),
        error_messages={
            "required": _("请填写问题描述"),
            "max_length": _("问题描述不能超过2000字"),
        },
    )


class SimilarForm(forms.Form):
    """The point and 小类 chosen so far, to look for the same problem nearby."""

    category = CategoryField()
    lat = forms.FloatField(min_value=-90, max_value=90)
    lon = forms.FloatField(min_value=-180, max_value=180)


class ReportForm(LocatedForm):
    photos = PhotosField(label=_("现场照片"), required=False)
    urgency = forms.ChoiceField(
        label=_("紧急程度"),
        choices=Urgency.choices,
        initial=Urgency.NORMAL,
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择紧急程度"), "invalid_choice": _("请选择紧急程度")},
    )
    is_anonymous = forms.BooleanField(
        label=_("匿名上报（处置单位和其他人看不到您的姓名）"), required=False
    )

    field_order = ["photos", "lat", "lon", "address", "category", "description", "urgency"]


class OnSpotForm(LocatedForm):
    before = PhotosField(
        label=_("处置前照片"), minimum=1, required_message=_("请至少上传1张处置前照片")
    )
    after = PhotosField(
        label=_("处置后照片"), minimum=1, required_message=_("请至少上传1张处置后照片")
    )
    note = forms.CharField(
        label=_("处置说明（选填）"),
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    field_order = ["before", "after", "lat", "lon", "address", "category", "description"]


# ---------------------------------------------------------------- desks


class DeskFilterForm(forms.Form):
    """The filters above a queue. Invalid values are dropped, never an error page."""

    q = forms.CharField(label=_("编号或描述"), required=False, max_length=50)
    category = forms.ChoiceField(label=_("大类"), required=False)
    region = forms.ChoiceField(label=_("区域"), required=False)
    source = forms.ChoiceField(
        label=_("来源"), required=False, choices=[("", _("全部来源")), *Source.choices]
    )
    overdue = forms.BooleanField(label=_("只看超期"), required=False)

    def __init__(
        self,
        data: Any,
        *,
        majors: Sequence[Category] = (),
        regions: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(data)
        category_field = self.fields["category"]
        region_field = self.fields["region"]
        assert isinstance(category_field, forms.ChoiceField)
        assert isinstance(region_field, forms.ChoiceField)
        category_field.choices = [
            ("", _("全部大类")),
            *[(f"{m.kind}-{m.full_code}", f"{m.get_kind_display()}·{m.name}") for m in majors],
        ]
        region_field.choices = [("", _("全部区域")), *regions]

    def value(self, name: str) -> Any:
        return self.cleaned_data.get(name) if self.is_valid() else None


# ---------------------------------------------------------------- case actions


class ActionForm(forms.Form):
    """Base of every action form: the case version seen (a stale page is a conflict) and a
    note. Subclasses make the note required with their own message."""

    note_label = _("说明（选填）")
    note_required: Any = None

    version = forms.IntegerField(widget=forms.HiddenInput)
    note = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"max_length": _("说明不能超过1000字")},
    )

    def __init__(self, *args: Any, case: Case, user: User, **kw: Any) -> None:
        kw.setdefault("initial", {})["version"] = case.version
        super().__init__(*args, **kw)
        self.case, self.user = case, user
        # The note comes last, after what the action needs (reason, unit, photos).
        self.order_fields([name for name in self.fields if name != "note"])
        note = self.fields["note"]
        note.label = self.note_label
        if self.note_required:
            note.label = _("说明")
            note.required = True
            note.error_messages["required"] = self.note_required


class NoteOnlyForm(ActionForm):
    pass


class NoFieldsForm(ActionForm):
    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        del self.fields["note"]


def note_required_form(message: Any) -> type[ActionForm]:
    return type("NoteRequiredForm", (ActionForm,), {"note_required": message})


class ConfirmOnSiteForm(ActionForm):
    exists = forms.TypedChoiceField(
        label=_("现场是否存在该问题"),
        choices=[("1", _("存在")), ("0", _("不存在"))],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
        error_messages={"required": _("请选择现场是否存在该问题")},
    )
    photos = PhotosField(label=_("现场照片（选填）"), required=False)


class FileForm(ActionForm):
    category = CategoryField(required=False)
    urgency = forms.ChoiceField(label=_("紧急程度"), choices=Urgency.choices)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["category"].label = _("分类（不改可不选）")
        self.fields["urgency"].initial = self.case.urgency


class RejectForm(ActionForm):
    note_required = _("请填写不予受理的说明")
    reason = forms.ChoiceField(
        label=_("不予受理原因"),
        choices=RejectReason.choices,
        error_messages={"required": _("请选择不予受理的原因")},
    )


class MergeForm(ActionForm):
    into = forms.CharField(
        label=_("合并到案件编号"),
        max_length=20,
        error_messages={"required": _("请填写要合并到的案件编号")},
    )

    def clean_into(self) -> Case:
        number = self.cleaned_data["into"].strip().upper()
        try:
            return get_case_for_user(self.user, number)
        except NotFound as e:
            raise ValidationError(_("未找到案件“%(number)s”") % {"number": number}) from e


class DispatchForm(ActionForm):
    to = forms.ChoiceField(label=_("承办单位"), error_messages={"required": _("请选择承办单位")})

    def __init__(
        self,
        *args: Any,
        targets: Sequence[Organisation] = (),
        suggested: Route | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self.targets = {o.code: o for o in targets}
        self.suggested = suggested
        field = self.fields["to"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("请选择")), *[(o.code, self._label(o)) for o in targets]]
        field.error_messages["invalid_choice"] = _("该单位不能承办此案件，请重新选择")
        if suggested is not None and suggested.organisation.code in self.targets:
            field.initial = suggested.organisation.code
            field.help_text = _("按分拨规则建议（%(principle)s）") % {
                "principle": suggested.principle
            }

    def _label(self, organisation: Organisation) -> str:
        if self.suggested and self.suggested.organisation.pk == organisation.pk:
            return str(_("%(name)s（建议）") % {"name": organisation.name})
        return organisation.name

    def clean_to(self) -> Organisation:
        return self.targets[self.cleaned_data["to"]]


class ReturnForm(ActionForm):
    note_required = _("请填写退回理由")
    reason = forms.ChoiceField(
        label=_("退回原因"),
        choices=ReturnReason.choices,
        error_messages={"required": _("请选择退回原因")},
    )


class ExtensionForm(ActionForm):
    note_required = _("请填写申请延期的理由")
    until = forms.DateTimeField(
        label=_("延期至"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "required": _("请选择延期后的期限"),
            "invalid": _("请按“年-月-日 时:分”填写期限"),
        },
    )


class SubmitForm(ActionForm):
    note_label = _("处置情况（选填）")
    photos = PhotosField(
        label=_("处置后照片"), minimum=1, required_message=_("请至少上传1张处置后照片")
    )


class CheckForm(ActionForm):
    photos = PhotosField(label=_("核查照片（选填）"), required=False)


class CheckFailForm(CheckForm):
    note_required = _("请填写核查不通过的原因")


class CloseForm(ActionForm):
    reason = forms.ChoiceField(
        label=_("结案类型"), choices=ClosureReason.choices, initial=ClosureReason.FIXED
    )


class RateForm(ActionForm):
    satisfaction = forms.ChoiceField(
        label=_("您对处理结果是否满意"),
        choices=Satisfaction.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("请选择满意程度"),
            "invalid_choice": _("请选择满意程度"),
        },
    )


class SuperviseForm(ActionForm):
    note_required = _("请填写督办要求")
    kind = forms.ChoiceField(
        label=_("督办方式"),
        choices=SupervisionKind.choices,
        error_messages={"required": _("请选择督办方式"), "invalid_choice": _("请选择督办方式")},
    )
    due_at = forms.DateTimeField(
        label=_("要求办结时间（选填）"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": _("请按“年-月-日 时:分”填写时间")},
    )


class ReclassifyForm(ActionForm):
    """修改分类或位置 before a unit claims the case; the fields start at the case's values, so
    only what the user changes is changed (and the case re-routed)."""

    note_label = _("修改原因（选填）")
    category = CategoryField(required=False)
    urgency = forms.ChoiceField(label=_("紧急程度"), choices=Urgency.choices)
    lat = _coordinate(_("纬度"), -90, 90)
    lon = _coordinate(_("经度"), -180, 180)
    address = forms.CharField(
        label=_("详细地址（选填）"),
        required=False,
        max_length=200,
        error_messages={"max_length": _("地址不能超过200字")},
    )

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.fields["category"].label = _("新分类（不改可不选）")
        for name in ("urgency", "lat", "lon", "address"):
            self.fields[name].initial = getattr(self.case, name)


class AssistAddForm(ActionForm):
    to = forms.ChoiceField(label=_("会办单位"), error_messages={"required": _("请选择会办单位")})

    def __init__(self, *args: Any, targets: Sequence[Organisation] = (), **kw: Any) -> None:
        super().__init__(*args, **kw)
        taken: set[int | None] = {self.case.assigned_org_id}
        taken.update(
            self.case.assists.filter(ended_at__isnull=True).values_list(
                "organisation_id", flat=True
            )
        )
        self.targets = {o.code: o for o in targets if o.pk not in taken}
        field = self.fields["to"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("请选择")), *[(o.code, o.name) for o in self.targets.values()]]
        field.error_messages["invalid_choice"] = _("该单位不能作为此案件的会办单位")

    def clean_to(self) -> Organisation:
        return self.targets[self.cleaned_data["to"]]


class AssistEndForm(ActionForm):
    organisation = forms.ChoiceField(
        label=_("结束会办的单位"), error_messages={"required": _("请选择会办单位")}
    )

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        active = self.case.assists.filter(ended_at__isnull=True).select_related("organisation")
        self.active = {a.organisation.code: a.organisation for a in active}
        field = self.fields["organisation"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("请选择")), *[(c, o.name) for c, o in self.active.items()]]
        field.error_messages["invalid_choice"] = _("该单位没有在会办此案件")

    def clean_organisation(self) -> Organisation:
        return self.active[self.cleaned_data["organisation"]]


class EvidenceForm(ActionForm):
    note_label = _("照片说明（选填）")
    photos = PhotosField(label=_("补充照片"), minimum=1, required_message=_("请至少上传1张照片"))


class CaseNoteForm(forms.Form):
    text = forms.CharField(
        label=_("内容"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("请填写内容"), "max_length": _("内容不能超过1000字")},
    )
    is_public = forms.BooleanField(label=_("公开给上报人"), required=False)


# Where a service's error belongs on a form (codes of cases.errors and lib.photos).
ERROR_FIELDS = {
    "description_required": "description",
    "category_invalid": "category",
    "outside_city": "lat",
    "reason_required": "note",
    "note_required": "note",
    "photos_required": "photos",
    "too_many_photos": "photos",
    "photo_too_large": "photos",
    "unsupported_media_type": "photos",
    "photo_error": "photos",
    "deadline_invalid": "until",
    "merge_target_invalid": "into",
    "dispatch_target_invalid": "to",
    "assist_invalid": "to",
    "outside_jurisdiction": "lat",
    "nothing_changed": None,
    "rate_window_passed": None,
    "already_rated": None,
}


def add_domain_error(form: forms.Form, error: DomainError, photo_field: str = "photos") -> None:
    """Show a service's refusal next to the field it is about (or above the form)."""
    field = ERROR_FIELDS.get(error.code)
    message = error.message
    if field == "photos":
        field = photo_field
        if name := error.details.get("photo"):
            message = f"“{name}”：{message}"
    form.add_error(field if field in form.fields else None, message)


# ---------------------------------------------------------------- dashboard


class DashboardForm(forms.Form):
    """What the KPI dashboard evaluates. Bad values fall back to the defaults."""

    role = forms.ChoiceField(label=_("考核对象"), choices=OBJECTS, required=False)
    period = forms.ChoiceField(label=_("考核期"), choices=PERIODS, required=False)
    date = forms.DateField(
        label=_("日期"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    region = forms.ChoiceField(label=_("区域"), required=False)
    source = forms.ChoiceField(
        label=_("来源"), required=False, choices=[("", _("全部来源")), *Source.choices]
    )

    def __init__(self, data: Any, *, regions: Sequence[tuple[str, str]] = ()) -> None:
        super().__init__(data)
        field = self.fields["region"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("全部区域")), *regions]

    def query(self, default_role: str, today: dt.date) -> DashboardQuery:
        data = self.cleaned_data if self.is_valid() else {}
        return DashboardQuery(
            role=data.get("role") or default_role,
            kind=PeriodKind(data.get("period") or PeriodKind.MONTH),
            day=data.get("date") or today,
            filters=KpiFilters(
                region=data.get("region") or None, source=data.get("source") or None
            ),
        )


class DrillForm(forms.Form):
    """Which number of the dashboard the user opened."""

    indicator = forms.ChoiceField(choices=[(code, code) for code in INDICATORS])
    part = forms.ChoiceField(choices=[(p.value, p.value) for p in Part])
    group_by = forms.ChoiceField(choices=[(d.value, d.value) for d in Dimension])
    key = forms.CharField(required=False, max_length=64)

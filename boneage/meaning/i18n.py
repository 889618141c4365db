"""English and Traditional Chinese (Taiwan) for every label, message and the report.

``t(key, lang, **values)`` formats one message. ``MESSAGES[lang]`` must hold every key of
``MESSAGES["en"]`` (a test checks it). The library raises its errors in English;
:func:`translate_error` maps each user-facing message (fixed text or a pattern with numbers)
onto its translation. Charts and the PDF draw Chinese with a subset of Noto Sans CJK TC that
ships in ``boneage/fonts`` (SIL Open Font License), made by ``python -m boneage.cli.fonts``.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

LANGUAGES = ("en", "zh-TW")
LANGUAGE_NAMES = {"en": "English", "zh-TW": "繁體中文"}
FONT_DIR = Path(__file__).resolve().parent / "fonts"
CJK_FONT_FILE = FONT_DIR / "NotoSansTC-subset.ttf"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        # Page and inputs
        "app_title": "Bone Age",
        "app_intro": (
            "Estimate a child's skeletal (bone) age from an X-ray of the **left hand and wrist**. "
            "Upload the whole radiograph (the wrist must be in it), give the child's sex and age, "
            "and see the bone age, the difference to the real age and what it means."
        ),
        "language": "Language",
        "upload_label": "Hand X-ray (PNG, JPEG or DICOM)",
        "sex_label": "Sex",
        "female": "Female",
        "male": "Male",
        "age_years": "Age: years",
        "age_months": "and months",
        "estimate_button": "Estimate bone age",
        "your_upload": "Your upload",
        "result_placeholder": "Results will appear here.",
        "outline_label": "Hand found (green) and crop (blue)",
        "model_view_label": "What the model looked at",
        "heatmap_toggle": "Show where the model looked (heatmap)",
        "chart_label": "Growth chart",
        "report_label": "Report (PDF)",
        "report_button": "Make a PDF report",
        "details_label": "Details for developers (JSON)",
        "examples_label": "Try an atlas radiograph (tap a picture)",
        "example_caption": "{sex}, {age}",
        "model_status": "Model: {name} v{version} ({source} weights, validation MAE {mae} months).",
        "model_status_none": "No trained model is installed: the app shows the prepared image but no bone age.",
        "model_status_broken": "The installed model failed its integrity check and was not loaded.",
        # Result card
        "bone_age_heading": "Bone age: {months} months ({words})",
        "bone_age": "Bone age",
        "interval": "{level}% interval",
        "interval_line": "{level}% interval: {low}–{high} months ({low_words} to {high_words})",
        "measure": "Measure",
        "value": "Value",
        "chronological_age": "Chronological age",
        "difference": "Difference (bone − chronological)",
        "assessment": "Assessment",
        "sd_for_boys": "{z} SD for boys",
        "sd_for_girls": "{z} SD for girls",
        "category_normal": "Within the normal range",
        "category_advanced": "Advanced",
        "category_delayed": "Delayed",
        "category_uncertain": "Uncertain",
        "matches": "The estimated bone age matches the child's age.",
        "ahead": "The estimated bone age is {size} ahead of the child's age.",
        "behind": "The estimated bone age is {size} behind the child's age.",
        "normal_body": (
            "That is within the usual range for healthy {children} of this age (within 2 standard "
            "deviations, about ±{range})."
        ),
        "outside_body": (
            "That is more than 2 standard deviations (±{range}) for {children} of this age: the bones "
            "look {word}. This can have many causes, most of them harmless; a doctor can tell whether "
            "it matters for this child."
        ),
        "uncertain_body": (
            "The model's {level}% interval reaches both inside and outside the usual range for healthy "
            "{children} of this age (±{range}), so this result cannot say whether the bones are "
            "{word} or normal. A radiologist's reading can."
        ),
        "word_advanced": "advanced",
        "word_delayed": "delayed",
        "boys": "boys",
        "girls": "girls",
        "within_error": (
            "The gap is smaller than the model's typical error (±{error}), so it cannot be told apart "
            "from no gap at all."
        ),
        "check_inputs": (
            "The gap is very large: the whole interval lies more than {sd} standard deviations from the "
            "age. Please check that the child's age and sex were entered correctly."
        ),
        "typical_error": (
            "Typical error of this model: **±{error} months** (the mean absolute error on {n_val} "
            "{radiographs} it never learnt from; it learnt from {n_train} others)."
        ),
        "radiographs_rsna": "RSNA hand radiographs",
        "radiographs_other": "hand radiographs",
        "typical_error_missing": "The typical error of this model was not recorded.",
        "interval_explained": (
            "The interval contains the true bone age for {coverage}% of held-out radiographs "
            "(measured on {n} images never used for training or calibration)."
        ),
        "model_line": "Model {name} v{version} ({architecture}). Reference variation: Greulich & Pyle atlas, Brush Foundation standard deviations.",
        "mirrored_note": "This looks like a right hand (or a mirrored image): it was mirrored to look like a left hand.",
        "rotated_note": "The image was turned {degrees}° so the fingers point up.",
        "disclaimer": (
            "**Not a diagnosis.** This is an automated estimate for information and research. Bone age "
            "must be assessed by a qualified radiologist or paediatrician, who also knows the child's "
            "history. Do not make medical decisions from this page alone."
        ),
        "no_model": (
            "**No bone age can be estimated: no trained model is installed on this server.** The images "
            "show how your upload was prepared."
        ),
        "refused_heading": "We could not use this image",
        "form_heading": "Please check the form",
        "no_result_heading": "We could not give a result",
        "year": "year",
        "years": "years",
        "month": "month",
        "months": "months",
        # Chart
        "chart_title_female": "Bone age against age — girls",
        "chart_title_male": "Bone age against age — boys",
        "chart_x": "Chronological age (years)",
        "chart_y": "Bone age (years)",
        "chart_identity": "bone age = age",
        "chart_band1": "±1 SD",
        "chart_band2": "±2 SD (normal range)",
        "chart_child": "this child (with interval)",
        # Report
        "report_title": "Bone age report",
        "report_created": "Created {date} by Bone Age {version}",
        "report_sex": "Sex",
        "report_image": "Image",
        "report_model": "Model",
        "report_validation": "Validation error (MAE)",
        "report_outline": "Upload and hand outline",
        "report_model_view": "Image the model used",
        "report_heatmap": "Where the model looked",
        "report_privacy": "Nothing about the child is kept on the server after this report is made.",
        # Errors (titles)
        "title_BoneAgeError": "Something went wrong",
        "title_InvalidInputError": "Cannot use this input",
        "title_InvalidImageError": "Cannot read this file",
        "title_ImageTooLargeError": "Image too large",
        "title_EmptyImageError": "Empty image",
        "title_NotAHandRadiographError": "Not a hand X-ray",
        "title_WristMissingError": "The wrist is missing",
        "title_InvalidAgeError": "Check the age",
        "title_InvalidSexError": "Choose the sex",
        "title_ModelNotInstalledError": "No model",
        "title_NoImage": "No image",
        "title_InvalidShareLinkError": "Cannot open this link",
        "share_button": "Share this result",
        "share_link_label": "Link to this result (numbers only, no image)",
        "send_link": "Send or copy the link",
        "shared_banner": (
            "**Shared result** from {date}: no image attached; recomputed from the numbers in the link."
        ),
        "shared_model": "Made by model {name} v{version}; its typical error: ±{error} months.",
        "shared_model_now": "This app now serves {name} v{version}: the link's numbers come from the older model.",
        "error_no_image": "Please upload an X-ray of the left hand first.",
        "error_unexpected": (
            "Something unexpected went wrong on the server while estimating (not a problem found in "
            "your image). Please try again in a moment."
        ),
        "error_model_broken": "The installed model could not be loaded. Please try again later.",
        "error_no_model": "No trained bone-age model is installed on this server, so no estimate can be made.",
    },
    "zh-TW": {
        "app_title": "骨齡評估",
        "app_intro": (
            "用**左手與手腕** X 光片估計孩子的骨骼年齡（骨齡）。請上傳完整的 X 光片（需包含手腕），"
            "填寫孩子的性別與年齡，"
            "即可看到骨齡、與實際年齡的差距，以及這個差距代表的意義。"
        ),
        "language": "語言",
        "upload_label": "手部 X 光片（PNG、JPEG 或 DICOM）",
        "sex_label": "性別",
        "female": "女",
        "male": "男",
        "age_years": "年齡：歲",
        "age_months": "又幾個月",
        "estimate_button": "估計骨齡",
        "your_upload": "您上傳的影像",
        "result_placeholder": "結果會顯示在這裡。",
        "outline_label": "找到的手部（綠色）與裁切範圍（藍色）",
        "model_view_label": "模型實際看到的影像",
        "heatmap_toggle": "顯示模型關注的區域（熱圖）",
        "chart_label": "生長圖",
        "report_label": "報告（PDF）",
        "report_button": "產生 PDF 報告",
        "details_label": "開發者詳細資料（JSON）",
        "examples_label": "試試圖譜中的 X 光片（點選圖片）",
        "example_caption": "{sex}，{age}",
        "model_status": "模型：{name} v{version}（{source} 權重，驗證平均絕對誤差 {mae} 個月）。",
        "model_status_none": "尚未安裝訓練好的模型：本程式會顯示處理後的影像，但無法給出骨齡。",
        "model_status_broken": "已安裝的模型未通過完整性檢查，因此沒有載入。",
        "bone_age_heading": "骨齡：{months} 個月（{words}）",
        "bone_age": "骨齡",
        "interval": "{level}% 區間",
        "interval_line": "{level}% 區間：{low}–{high} 個月（{low_words} 至 {high_words}）",
        "measure": "項目",
        "value": "數值",
        "chronological_age": "實際年齡",
        "difference": "差距（骨齡 − 實際年齡）",
        "assessment": "評估",
        "sd_for_boys": "相當於男孩的 {z} 個標準差",
        "sd_for_girls": "相當於女孩的 {z} 個標準差",
        "category_normal": "在正常範圍內",
        "category_advanced": "超前",
        "category_delayed": "落後",
        "category_uncertain": "無法確定",
        "matches": "估計的骨齡與孩子的實際年齡相符。",
        "ahead": "估計的骨齡比孩子的實際年齡超前 {size}。",
        "behind": "估計的骨齡比孩子的實際年齡落後 {size}。",
        "normal_body": "這在同年齡健康{children}的一般範圍內（2 個標準差以內，約 ±{range}）。",
        "outside_body": (
            "這超過同年齡{children}的 2 個標準差（±{range}）：骨骼看起來{word}。原因很多，大多無害；"
            "醫師可以判斷這對孩子是否重要。"
        ),
        "uncertain_body": (
            "模型的 {level}% 區間同時落在同年齡健康{children}的一般範圍（±{range}）之內與之外，"
            "因此無法判斷骨骼是{word}還是正常。請由放射科醫師判讀。"
        ),
        "word_advanced": "超前",
        "word_delayed": "落後",
        "boys": "男孩",
        "girls": "女孩",
        "within_error": "這個差距小於模型的典型誤差（±{error}），因此無法與「沒有差距」區分。",
        "check_inputs": "這個差距非常大，整個區間落在 {sd} 個標準差之外：請檢查孩子的年齡與性別是否填寫正確。",
        "typical_error": (
            "本模型的典型誤差：**±{error} 個月**（在 {n_val} 張未用於訓練的{radiographs}上的平均絕對誤差；"
            "訓練用了其他 {n_train} 張）。"
        ),
        "radiographs_rsna": " RSNA 手部 X 光片",
        "radiographs_other": "手部 X 光片",
        "typical_error_missing": "本模型的典型誤差沒有記錄。",
        "interval_explained": "在未用於訓練或校準的 {n} 張 X 光片中，有 {coverage}% 的真實骨齡落在這個區間內。",
        "model_line": "模型 {name} v{version}（{architecture}）。參考變異：Greulich & Pyle 圖譜，Brush Foundation 標準差。",
        "mirrored_note": "這看起來是右手（或左右翻轉的影像）：已將其鏡像翻轉為左手。",
        "rotated_note": "影像已旋轉 {degrees}°，使手指朝上。",
        "disclaimer": (
            "**這不是診斷。** 這是供參考與研究用的自動估計。骨齡必須由合格的放射科醫師或小兒科醫師，"
            "在了解孩子病史的情況下評估。請勿僅依據本頁面做出醫療決定。"
        ),
        "no_model": "**無法估計骨齡：此伺服器沒有安裝訓練好的模型。** 影像顯示您上傳的檔案如何被處理。",
        "refused_heading": "無法使用這張影像",
        "form_heading": "請檢查表單",
        "no_result_heading": "無法提供結果",
        "year": "歲",
        "years": "歲",
        "month": "個月",
        "months": "個月",
        "chart_title_female": "骨齡與實際年齡——女孩",
        "chart_title_male": "骨齡與實際年齡——男孩",
        "chart_x": "實際年齡（歲）",
        "chart_y": "骨齡（歲）",
        "chart_identity": "骨齡 = 實際年齡",
        "chart_band1": "±1 個標準差",
        "chart_band2": "±2 個標準差（正常範圍）",
        "chart_child": "這位孩子（含區間）",
        "report_title": "骨齡報告",
        "report_created": "{date} 由 Bone Age {version} 產生",
        "report_sex": "性別",
        "report_image": "影像",
        "report_model": "模型",
        "report_validation": "驗證誤差（平均絕對誤差）",
        "report_outline": "上傳影像與手部輪廓",
        "report_model_view": "模型使用的影像",
        "report_heatmap": "模型關注的區域",
        "report_privacy": "本報告產生後，伺服器不會保留任何關於孩子的資料。",
        "title_BoneAgeError": "發生錯誤",
        "title_InvalidInputError": "無法使用此輸入",
        "title_InvalidImageError": "無法讀取此檔案",
        "title_ImageTooLargeError": "影像太大",
        "title_EmptyImageError": "空白影像",
        "title_NotAHandRadiographError": "不是手部 X 光片",
        "title_WristMissingError": "沒有手腕",
        "title_InvalidAgeError": "請檢查年齡",
        "title_InvalidSexError": "請選擇性別",
        "title_ModelNotInstalledError": "沒有模型",
        "title_NoImage": "沒有影像",
        "title_InvalidShareLinkError": "無法開啟這個連結",
        "share_button": "分享這個結果",
        "share_link_label": "結果連結（只有數字，沒有影像）",
        "send_link": "傳送或複製連結",
        "shared_banner": "**分享的結果**（{date}）：沒有附上影像；由連結中的數字重新計算。",
        "shared_model": "由模型 {name} v{version} 產生；其典型誤差：±{error} 個月。",
        "shared_model_now": "本應用程式目前使用 {name} v{version}：連結中的數字來自較舊的模型。",
        "error_no_image": "請先上傳左手的 X 光片。",
        "error_unexpected": "伺服器在估計時發生了意外的錯誤（並非在您的影像中發現問題）。請稍後再試一次。",
        "error_model_broken": "已安裝的模型無法載入。請稍後再試。",
        "error_no_model": "此伺服器沒有安裝訓練好的骨齡模型，因此無法估計。",
    },
}

# The library's user-facing error messages (English, as raised) and their translations.
# Patterns capture the numbers; the translation reuses them by name.
ERROR_TRANSLATIONS: dict[str, list[tuple[str, str]]] = {
    "zh-TW": [
        (
            r"This link is damaged or incomplete: it may have been cut off when it was copied\. "
            r"Please ask for the whole link again\.",
            "這個連結已損壞或不完整：可能在複製時被截斷了。請再索取一次完整的連結。",
        ),
        (
            r"This link cannot be verified: it was changed after it was made, or it comes from "
            r"another server\. No result is shown\. Please ask for the link again\.",
            "無法驗證這個連結：它在產生後被修改過，或來自另一個伺服器。因此不顯示任何結果。請再索取一次連結。",
        ),
        (
            r"Please choose the child's sex \(female or male\): the model needs it\.",
            "請選擇孩子的性別（女或男）：模型需要這項資料。",
        ),
        (r"Please enter the child's age as a number\.", "請以數字輸入孩子的年齡。"),
        (
            r"The age must be between 0 and 20 years: bone age is only defined for children and adolescents\.",
            "年齡必須介於 0 到 20 歲之間：骨齡只適用於兒童與青少年。",
        ),
        (r"The age in (?P<what>years|months) must be a number\.", "年齡的{what}必須是數字。"),
        (r"The age in (?P<what>years|months) must be a positive number\.", "年齡的{what}必須是正數。"),
        (r"Please enter the child's age \(years and months\)\.", "請輸入孩子的年齡（歲與月）。"),
        (
            r"Months must be 0-11 when years are given \(e\.g\. 7 years 3 months\)\.",
            "填寫歲數時，月數必須是 0 到 11（例如 7 歲 3 個月）。",
        ),
        (
            r"The file is empty \(0 bytes\)\. Please upload the X-ray image again\.",
            "檔案是空的（0 位元組）。請重新上傳 X 光影像。",
        ),
        (
            r"The file is larger than (?P<mb>\d+) MB\. Please upload a smaller image\.",
            "檔案超過 {mb} MB。請上傳較小的影像。",
        ),
        (r"The image is too large to open safely\.", "影像太大，無法安全開啟。"),
        (
            r"This file could not be read as an image\. Please upload a PNG, JPEG or DICOM file of the hand X-ray\.",
            "無法將此檔案讀取為影像。請上傳手部 X 光片的 PNG、JPEG 或 DICOM 檔案。",
        ),
        (
            r"The image is (?P<w>\d+) x (?P<h>\d+) pixels; the limit is (?P<mp>\d+) megapixels\. Please upload a smaller export of the radiograph\.",
            "影像為 {w} x {h} 像素，上限是 {mp} 百萬像素。請匯出較小的 X 光影像後再上傳。",
        ),
        (
            r"This looks like a colour photograph, not an X-ray\. Please upload the radiograph of the left hand \(a grayscale image\)\.",
            "這看起來是彩色照片，不是 X 光片。請上傳左手的 X 光片（灰階影像）。",
        ),
        (
            r"The image is only (?P<w>\d+) x (?P<h>\d+) pixels\. Please upload the full-resolution X-ray \(at least (?P<side>\d+) pixels on each side\)\.",
            "影像只有 {w} x {h} 像素。請上傳完整解析度的 X 光片（每邊至少 {side} 像素）。",
        ),
        (
            r"The image is almost completely black\. Please check the export\.",
            "影像幾乎全黑。請檢查匯出的檔案。",
        ),
        (
            r"The image is blank \(one flat colour\)\. Please check the upload and try again\.",
            "影像是空白的（只有單一顏色）。請檢查上傳的檔案後再試一次。",
        ),
        (
            r"This DICOM file could not be read \(it may be damaged\)\.",
            "無法讀取此 DICOM 檔案（可能已損壞）。",
        ),
        (
            r"This DICOM image is stored as (?P<kind>.+), which is not used for radiographs\.",
            "此 DICOM 影像以 {kind} 格式儲存，X 光片不使用這種格式。",
        ),
        (
            r"The DICOM file has no readable image data \(unsupported compression or damaged\)\.",
            "此 DICOM 檔案沒有可讀取的影像資料（壓縮格式不支援或檔案損壞）。",
        ),
        (r"The DICOM file does not contain a 2-D image\.", "此 DICOM 檔案不包含二維影像。"),
        (
            r"No hand could be found in this image\. Please upload a radiograph of the whole left hand and wrist, palm down, on a dark background\.",
            "在這張影像中找不到手。請上傳整隻左手與手腕的 X 光片（掌心朝下，背景為深色）。",
        ),
        (
            r"This does not look clearly like a hand X-ray: the hand's outline could not be traced with confidence\. Please upload the radiograph of the left hand and wrist\.",
            "這看起來不太像手部 X 光片：無法可靠地描出手的輪廓。請上傳左手與手腕的 X 光片。",
        ),
        (
            r"This image has no object that stands out from the background like a hand on an X-ray\. Please upload the radiograph of the left hand\.",
            "這張影像中沒有像 X 光片上的手那樣從背景中突顯的物體。請上傳左手的 X 光片。",
        ),
        (
            r"This does not look like a hand: the object found has no fingers\. Please upload the radiograph of the left hand and wrist, with the fingers spread\.",
            "這看起來不像手：找到的物體沒有手指。請上傳左手與手腕的 X 光片，手指需張開。",
        ),
        (
            r"This X-ray is over-exposed: the bones are burnt out to white and their detail is lost\. Please upload a properly exposed radiograph \(or the original DICOM file\)\.",
            "這張 X 光片曝光過度：骨骼已變成一片白色，細節已經遺失。請上傳曝光正常的 X 光片（或原始 DICOM 檔案）。",
        ),
        (
            r"This image seems to show more than one hand\. Please upload the radiograph of the left hand only, or crop the image to the left hand first\.",
            "這張影像中看起來不只一隻手。請只上傳左手的 X 光片，或先將影像裁切成只有左手。",
        ),
        (
            r"The wrist seems to be missing from this image: the bone age is read from the wrist bones as well as the hand\. Please upload the whole radiograph of the left hand and wrist\.",
            "這張影像中看起來沒有手腕：判讀骨齡需要手腕的骨骼。請上傳整隻左手與手腕的 X 光片。",
        ),
        (r"The model is still loading\.", "模型仍在載入中。"),
    ],
}
_WHAT = {"years": "歲數", "months": "月數"}
# Gradio's own zh-TW texts around our components (upload box, buttons), for the webfont subset.
GRADIO_UI_TEXT = "將檔案拖放至此處或點擊上傳清除提交取消載入中錯誤複製下載全螢幕分享透過使用建構設定"


def normalise_language(value: str | None) -> str:
    """'zh-TW', 'zh-Hant-TW', 'zh-HK', 'zh' ... -> 'zh-TW'; anything else -> 'en'."""
    code = (value or "").strip().split(",")[0].split(";")[0].lower()
    return "zh-TW" if code.startswith("zh") else "en"


def t(key: str, lang: str = "en", **values) -> str:
    """The message ``key`` in ``lang`` (English when the language is unknown), formatted."""
    catalog = MESSAGES.get(lang, MESSAGES["en"])
    return catalog.get(key, MESSAGES["en"][key]).format(**values)


def translate_error(error: Exception, lang: str) -> tuple[str, str]:
    """(title, message) of a library error in ``lang``; unknown messages stay as raised."""
    title_key = f"title_{type(error).__name__}"
    title = t(title_key, lang) if title_key in MESSAGES["en"] else getattr(error, "title", "")
    message = str(error)
    for pattern, translation in ERROR_TRANSLATIONS.get(lang, []):
        if match := re.fullmatch(pattern, message):
            values = {k: _WHAT.get(v, v) for k, v in match.groupdict().items()}
            return title, translation.format(**values)
    return title, message


def format_duration(months: float, lang: str = "en") -> str:
    """47.4 -> '3 years 11 months' / '3 歲 11 個月'; 5 -> '5 months'; 24 -> '2 years'."""
    total = int(round(abs(months)))
    years, rest = divmod(total, 12)
    parts = []
    if years:
        parts.append(f"{years} {t('year' if years == 1 else 'years', lang)}")
    if rest or not years:
        parts.append(f"{rest} {t('month' if rest == 1 else 'months', lang)}")
    return ("-" if months < 0 and total else "") + " ".join(parts)


def format_difference(gap_months: float, lang: str = "en") -> str:
    """Bone age minus age, signed: '+4 months', '−1 month', '−15 months (−1 year 3 months)'.

    Years and months are added only from a year on; below it they would repeat the number.
    """
    sign = "+" if gap_months >= 0 else "−"
    months = round(abs(gap_months))
    text = f"{sign}{months} {t('month' if months == 1 else 'months', lang)}"
    if months >= 12:
        text += f" ({sign}{format_duration(abs(gap_months), lang)})"
    return text


@cache
def font_family(lang: str) -> list[str]:
    """Font names for matplotlib: DejaVu Sans first, the shipped CJK subset for Chinese glyphs."""
    if lang != "zh-TW" or not CJK_FONT_FILE.is_file():
        return ["DejaVu Sans"]
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(CJK_FONT_FILE))
    name = font_manager.FontProperties(fname=str(CJK_FONT_FILE)).get_name()
    return [name, "DejaVu Sans"]


def all_characters(lang: str) -> set[str]:
    """Every character the ``lang`` catalog and its error translations can print (for the font subset)."""
    text = "".join(MESSAGES[lang].values())
    text += "".join(translation for _, translation in ERROR_TRANSLATIONS.get(lang, []))
    text += "".join(_WHAT.values()) + "".join(LANGUAGE_NAMES.values()) + GRADIO_UI_TEXT
    return set(re.sub(r"\{[a-z_]+\}", "", text))

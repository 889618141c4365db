"""The real app (``python app.py``) on 127.0.0.1, called through gradio_client."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from appserver import running_app

pytestmark = pytest.mark.app


@pytest.fixture(scope="module")
def app_log(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("app") / "app.log"


@pytest.fixture(scope="module")
def app_url(trained_weights: Path, app_log: Path):
    with running_app(trained_weights, app_log) as url:
        yield url


@pytest.fixture(scope="module")
def client(app_url: str) -> Client:
    return Client(app_url, verbose=False)


def test_predict_endpoint_returns_structured_result(client: Client, hand_png: Path):
    result = client.predict(handle_file(str(hand_png)), "female", 120, api_name="/predict")
    assert "heatmap" not in result["timing_ms"]  # the bone age first: no Grad-CAM, no PDF
    assert result["chart"]["child"]["age_years"] == 10.0
    assert 0 <= result["bone_age_months"] <= 240
    assert result["chronological_age_months"] == 120
    assert result["gap_months"] == pytest.approx(result["bone_age_months"] - 120, abs=0.11)
    assert result["sex"] == "female"
    assert result["model"]["name"] == "seed-cnn-64"
    assert result["interpretation"]["sentence"]


def test_the_app_moves_to_onnx_runtime_and_answers_the_same(client: Client, app_log: Path, hand_png: Path):
    before = client.predict(handle_file(str(hand_png)), "male", 96, api_name="/predict")["bone_age_months"]
    deadline = time.time() + 120
    # Once every network has its runtime, one line says which (the model's, then any the chain runs).
    while not (settled := [line for line in app_log.read_text().splitlines() if "Serving with " in line]):
        assert time.time() < deadline, "the app never said which runtime serves"
        time.sleep(0.2)
    assert "Serving with onnxruntime" in settled[0] and "pytorch" not in settled[0], app_log.read_text()
    after = client.predict(handle_file(str(hand_png)), "male", 96, api_name="/predict")["bone_age_months"]
    assert after == pytest.approx(before, abs=0.11)  # rounded to 0.1 month in the answer


def test_report_and_heatmap_are_made_on_request(client: Client, hand_png: Path):
    report = client.predict(handle_file(str(hand_png)), "female", 120, "en", api_name="/report")
    heatmap = client.predict(handle_file(str(hand_png)), "female", 120, api_name="/heatmap")
    assert Path(report).read_bytes()[:5] == b"%PDF-" and Path(heatmap).read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(AppError, match="between 0 and 20 years"):
        client.predict(handle_file(str(hand_png)), "female", 400, api_name="/report")


def test_only_the_named_endpoints_are_public(client: Client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert sorted(endpoints) == ["/heatmap", "/predict", "/report"]
    # what a script sees in view_api: the parameters by name, the answers by what they hold
    for endpoint in endpoints.values():
        names = [p["parameter_name"] for p in endpoint["parameters"]]
        assert names == [
            "image",
            "sex",
            "age_months",
            "lang",
            "height",
            "mother_height",
            "father_height",
            "height_unit",
        ]
        # the heights are optional: an older call with four arguments still works
        assert [p["parameter_has_default"] for p in endpoint["parameters"]][4:] == [True] * 4
    returns = {name: [r["label"] for r in endpoint["returns"]] for name, endpoint in endpoints.items()}
    assert returns == {"/predict": ["result"], "/report": ["report_pdf"], "/heatmap": ["heatmap_png"]}


def test_bad_upload_is_a_clear_error(client: Client, tmp_path: Path):
    fake = tmp_path / "xray.png"
    fake.write_text("<html><script>alert('hi')</script></html>")
    with pytest.raises(AppError, match="could not be read as an image"):
        client.predict(handle_file(str(fake)), "male", 100, api_name="/predict")


def test_bad_age_is_a_clear_error(client: Client, hand_png: Path):
    with pytest.raises(AppError, match="between 0 and 20 years"):
        client.predict(handle_file(str(hand_png)), "male", 400, api_name="/predict")


def test_missing_sex_is_a_clear_error(client: Client, hand_png: Path):
    with pytest.raises(AppError, match="sex"):
        client.predict(handle_file(str(hand_png)), None, 100, api_name="/predict")


def test_app_without_model_says_so(tmp_path: Path, hand_png: Path):
    with running_app(None, tmp_path / "app.log") as url:
        client = Client(url, verbose=False)
        with pytest.raises(AppError, match="No trained bone-age model is installed"):
            client.predict(handle_file(str(hand_png)), "female", 100, api_name="/predict")
        # every input is checked before the missing model is reported
        with pytest.raises(AppError, match="between 0 and 20 years"):
            client.predict(handle_file(str(hand_png)), "female", 400, api_name="/predict")
        with pytest.raises(AppError, match="sex"):
            client.predict(handle_file(str(hand_png)), "robot", 100, api_name="/predict")
        broken = tmp_path / "broken.png"
        broken.write_bytes(b"<html>not an image</html>")
        with pytest.raises(AppError, match="could not be read"):
            client.predict(handle_file(str(broken)), "female", 100, api_name="/predict")
        page = __import__("urllib.request").request.urlopen(url).read().decode()
        assert "No trained model is installed" in page


def test_bad_uploads_through_the_running_app(client: Client, app_log: Path, hand_png: Path, tmp_path: Path):
    """A sample of the fuzz corpus over HTTP: each is a friendly error and the server lives on."""
    from badfiles import BAD_AGES, bad_file_corpus
    from boneage.predictor import analyse
    from helpers import assert_friendly

    corpus = bad_file_corpus()
    for case in corpus[::10]:
        path = tmp_path / case.filename
        path.write_bytes(case.data)
        with pytest.raises(case.expected) as expected:
            analyse(path, "male", 100)
        with pytest.raises(AppError) as shown:
            client.predict(handle_file(str(path)), "male", 100, api_name="/predict")
        assert str(shown.value) == str(expected.value), case.name
        assert_friendly(str(shown.value))
    for age in [a for a in BAD_AGES if isinstance(a, int | float) and math.isfinite(a)]:  # JSON has no NaN
        with pytest.raises(AppError, match="age"):
            client.predict(handle_file(str(hand_png)), "female", age, api_name="/predict")
    result = client.predict(handle_file(str(hand_png)), "female", 120, api_name="/predict")
    assert 0 <= result["bone_age_months"] <= 240
    assert "Traceback" not in app_log.read_text()  # every failure was an expected, typed one


def test_dicom_without_extension_is_accepted(client: Client, tmp_path: Path):
    """PACS exports are often named IM0001 with no extension: content decides, not the name."""
    from helpers import synthetic_hand, write_dicom

    path = write_dicom(tmp_path / "IM0001", synthetic_hand(100).astype("uint16") * 16)
    result = client.predict(handle_file(str(path)), "male", 100, api_name="/predict")
    assert result["image"]["format"] == "DICOM" and result["image"]["bit_depth"] == 12


def test_api_answers_in_traditional_chinese_when_asked(client: Client, hand_png: Path):
    with pytest.raises(AppError, match="年齡必須介於 0 到 20 歲之間"):
        client.predict(handle_file(str(hand_png)), "female", 400, "zh-TW", api_name="/predict")
    result = client.predict(handle_file(str(hand_png)), "female", 120, "zh-TW", api_name="/predict")
    assert "骨齡" in result["interpretation"]["sentence"]


def test_api_schema_is_stable(client: Client, hand_png: Path):
    """The /predict result keeps the shape the README documents (tests/fixtures/api_schema.json)."""
    from schema import shape_of

    result = client.predict(handle_file(str(hand_png)), "male", 100, api_name="/predict")
    expected = json.loads((Path(__file__).parent / "fixtures" / "api_schema.json").read_text())
    assert shape_of(result) == expected
    assert result["height"] is None  # no height given: the answer is as it was


def test_heights_through_the_api(client: Client, hand_png: Path):
    """With the heights, /predict adds a ``height`` object (tests/fixtures/api_schema_height.json);
    a height that cannot be a child's is refused in the page's language, never answered."""
    from schema import shape_of

    result = client.predict(
        handle_file(str(hand_png)), "male", 130, "en", "4 ft 7 in", "165", "180", "cm", api_name="/predict"
    )
    height = result["height"]
    assert height["height_cm"] == 139.7 and height["unit"] == "ft_in" and height["target"]["cm"] == 179.0
    assert 10 < height["centile"] < 50 and height["reference"] == "CDC 2000"
    expected = json.loads((Path(__file__).parent / "fixtures" / "api_schema_height.json").read_text())
    if height["prediction"] is None:  # a bone age outside the tables says why instead
        assert height["no_prediction"] in ("bone_age_below_tables", "growth_complete", "outside_table")
    else:
        assert shape_of(height) == expected
        low, cm, high = (height["prediction"][k] for k in ("low_cm", "cm", "high_cm"))
        assert low < cm < high
    with pytest.raises(AppError, match="Did you mean 55 inches"):
        client.predict(handle_file(str(hand_png)), "male", 130, "en", "55", api_name="/predict")
    with pytest.raises(AppError, match="您是指 55 英寸"):
        client.predict(handle_file(str(hand_png)), "male", 130, "zh-TW", "55", api_name="/predict")

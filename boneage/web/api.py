"""The named API endpoints (``gradio_client``): /predict, /report and /heatmap.

Every input is checked first, so a caller learns what is wrong with its request even on a server
without a model; only then does a missing model answer "No model". The parameter names are the
API's (tests/fixtures/api_schema.json).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from boneage.io.inputs import HeightInputs, parse_age_months, parse_heights, parse_sex
from boneage.predictor import Analysis
from boneage.report.card import save_heatmap_png, save_report_pdf
from boneage.web.served import ServedModel, refuse
from boneage.words import normalise_language, t


@dataclass
class Endpoints:
    served: ServedModel

    def _analysis(self, image, sex, age_months, lang: str, heights: tuple, heatmap: bool = False) -> Analysis:
        try:
            age = parse_age_months(age_months)
            parse_sex(sex)
            measured: HeightInputs = parse_heights(*heights)
            result = self.served.analyse(image, sex, age, lang, heatmap=heatmap, heights=measured)
        except Exception as exc:
            raise refuse(exc, lang) from None
        if result.bone_age_months is None:
            raise gr.Error(
                t("error_no_model", lang),
                title=t("title_ModelNotInstalledError", lang),
                print_exception=False,
            )
        return result

    def predict(
        self,
        image,
        sex,
        age_months,
        lang="en",
        height="",
        mother_height="",
        father_height="",
        height_unit="cm",
    ):
        """API /predict: the result (JSON) for an image file, the sex ('female'/'male') and the age in
        months; optionally the child's, mother's and father's heights (cm, or written out: '4 ft 4 in')
        and their unit ('cm' or 'ft_in'). See the README for its schema; /report and /heatmap make
        the files on request."""
        lang = normalise_language(lang)
        heights = (height, mother_height, father_height, height_unit)
        return self._analysis(image, sex, age_months, lang, heights).to_dict()

    def report(
        self,
        image,
        sex,
        age_months,
        lang="en",
        height="",
        mother_height="",
        father_height="",
        height_unit="cm",
    ):
        """API /report: the one-page PDF report for the same inputs as /predict."""
        lang = normalise_language(lang)
        heights = (height, mother_height, father_height, height_unit)
        return str(save_report_pdf(self._analysis(image, sex, age_months, lang, heights, heatmap=True), lang))

    def heatmap(
        self,
        image,
        sex,
        age_months,
        lang="en",
        height="",
        mother_height="",
        father_height="",
        height_unit="cm",
    ):
        """API /heatmap: where the model looked (PNG) for the same inputs as /predict."""
        lang = normalise_language(lang)
        heights = (height, mother_height, father_height, height_unit)
        return str(save_heatmap_png(self._analysis(image, sex, age_months, lang, heights, heatmap=True)))

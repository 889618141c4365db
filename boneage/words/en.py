"""English: every word the app shows, by key.

Keys ``title_<ErrorClass>`` give a refusal's heading, keys ``error_<code>`` its sentence (the
error's ``params`` fill the braces). ``boneage.words`` looks them up; a test checks that every
catalogue has every key of this one.
"""

MESSAGES: dict[str, str] = {
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
    # Refusals: one sentence per error code (boneage.errors); the error's params fill the braces.
    "error_share_link_damaged": (
        "This link is damaged or incomplete: it may have been cut off when it was copied. "
        "Please ask for the whole link again."
    ),
    "error_share_link_unverified": (
        "This link cannot be verified: it was changed after it was made, or it comes from "
        "another server. No result is shown. Please ask for the link again."
    ),
    "error_sex_missing": "Please choose the child's sex (female or male): the model needs it.",
    "error_sex_unknown_for_file": "The child's sex is not known for this file (give it in --labels or --sex).",
    "error_age_not_number": "Please enter the child's age as a number.",
    "error_age_out_of_range": (
        "The age must be between 0 and 20 years: bone age is only defined for children and adolescents."
    ),
    "error_years_not_number": "The age in years must be a number.",
    "error_months_not_number": "The age in months must be a number.",
    "error_years_negative": "The age in years must be a positive number.",
    "error_months_negative": "The age in months must be a positive number.",
    "error_age_missing": "Please enter the child's age (years and months).",
    "error_months_too_many": "Months must be 0-11 when years are given (e.g. 7 years 3 months).",
    "error_file_not_found": "File not found: {name}",
    "error_file_empty": "The file is empty (0 bytes). Please upload the X-ray image again.",
    "error_file_too_large": "The file is larger than {megabytes} MB. Please upload a smaller image.",
    "error_image_too_large_to_open": "The image is too large to open safely.",
    "error_not_an_image": (
        "This file could not be read as an image. Please upload a PNG, JPEG or DICOM file of the hand X-ray."
    ),
    "error_unsupported_mode": "Unsupported image mode {mode!r}.",
    "error_not_grayscale": "Expected a single grayscale image.",
    "error_too_many_pixels": (
        "The image is {width} x {height} pixels; the limit is {megapixels} megapixels. Please upload a "
        "smaller export of the radiograph."
    ),
    "error_colour_photo": (
        "This looks like a colour photograph, not an X-ray. Please upload the radiograph of the left hand "
        "(a grayscale image)."
    ),
    "error_image_too_small": (
        "The image is only {width} x {height} pixels. Please upload the full-resolution X-ray (at least "
        "{side} pixels on each side)."
    ),
    "error_image_black": "The image is almost completely black. Please check the export.",
    "error_image_blank": "The image is blank (one flat colour). Please check the upload and try again.",
    "error_dicom_unreadable": "This DICOM file could not be read (it may be damaged).",
    "error_dicom_photometric": "This DICOM image is stored as {kind}, which is not used for radiographs.",
    "error_dicom_no_pixels": "The DICOM file has no readable image data (unsupported compression or damaged).",
    "error_dicom_not_2d": "The DICOM file does not contain a 2-D image.",
    "error_no_hand": (
        "No hand could be found in this image. Please upload a radiograph of the whole left hand and "
        "wrist, palm down, on a dark background."
    ),
    "error_outline_unsure": (
        "This does not look clearly like a hand X-ray: the hand's outline could not be traced with "
        "confidence. Please upload the radiograph of the left hand and wrist."
    ),
    "error_no_fingers": (
        "This does not look like a hand: the object found has no fingers. Please upload the radiograph "
        "of the left hand and wrist, with the fingers spread."
    ),
    "error_two_hands": (
        "This image seems to show more than one hand. Please upload the radiograph of the left hand "
        "only, or crop the image to the left hand first."
    ),
    "error_over_exposed": (
        "This X-ray is over-exposed: the bones are burnt out to white and their detail is lost. Please "
        "upload a properly exposed radiograph (or the original DICOM file)."
    ),
    "error_no_contrast": (
        "This image has no object that stands out from the background like a hand on an X-ray. Please "
        "upload the radiograph of the left hand."
    ),
    "error_wrist_missing": (
        "The wrist seems to be missing from this image: the bone age is read from the wrist bones as "
        "well as the hand. Please upload the whole radiograph of the left hand and wrist."
    ),
    "title_ModelUnavailable": "No model",
    "title_UnreadableUploadError": "Too degraded to read",
    "error_too_noisy": (
        "This image is too noisy for a bone age: on images this noisy the estimate was off by "
        "{extra_error_months} months more than usual. Please upload the original file (the DICOM or the "
        "full-size export from the viewer), not a photo, screenshot or thumbnail of it."
    ),
    "error_too_compressed": (
        "This image is too heavily compressed for a bone age: on images this compressed the estimate "
        "was off by {extra_error_months} months more than usual. Please upload the original file (the "
        "DICOM or the full-size export from the viewer), not a photo, screenshot or thumbnail of it."
    ),
    "error_too_small": (
        "This image is too small for a bone age: on images this small the estimate was off by "
        "{extra_error_months} months more than usual. Please upload the original file (the DICOM or the "
        "full-size export from the viewer), not a photo, screenshot or thumbnail of it."
    ),
    "error_film_too_small": (
        "The radiograph takes up only a small part of this image (about {side} pixels along its longer "
        "side): too few to read the bones. Please upload the original file (the DICOM or the full-size "
        "export from the viewer), or the film itself cropped to its edges, not a screenshot or thumbnail."
    ),
    "caution_heading": "Read with caution",
    "caution_noise": (
        "This image is noisy. On images like it the bone age was off by about {extra} months more than "
        "usual (9 in 10 moved by less than {shift} months), so the interval is wider to take that in."
    ),
    "caution_compression": (
        "This image is compressed (JPEG). On images like it the bone age was off by about {extra} months "
        "more than usual (9 in 10 moved by less than {shift} months), so the interval is wider to take that in."
    ),
    "caution_size": (
        "The hand in this image is small ({side} pixels). On images like it the bone age was off by about "
        "{extra} months more than usual (9 in 10 moved by less than {shift} months), so the interval is "
        "wider to take that in."
    ),
    "caution_field": (
        "The hand was found only on a second look, inside the film's collimated field (the "
        "bright rectangle). Films read this way were on average {extra} months less accurate, so "
        "the interval is wider."
    ),
    "caution_margin": (
        "The hand was found only on a second look, with a margin added around the image (the hand "
        "reaches its edges). Films read this way were on average {extra} months less accurate, so "
        "the interval is wider."
    ),
    "caution_original": "For a better estimate, upload the original file (the DICOM or the full-size export).",
    # Height (optional inputs, the card's height part, the height chart)
    "height_section": "Height (optional): for the predicted adult height",
    "height_units": "Units",
    "unit_cm": "cm",
    "unit_ft_in": "feet and inches",
    "child_height_label": "Child's height today",
    "mother_height_label": "Mother's height",
    "father_height_label": "Father's height",
    "height_placeholder": "e.g. 132.5 cm or 4 ft 4 in",
    "cm_short": "cm",
    "feet_inches": "{feet} ft {inches} in",
    "height_heading": "Height",
    "height_today": "Height today",
    "height_centile": "{centile} centile for age ({sds} SD on the {reference} charts)",
    "parents_target": "Parents' target",
    "target_value": "{cm} (range {low} to {high})",
    "predicted_adult": "Predicted adult height",
    "predicted_value": "**{cm}** ({level}% interval {low} to {high})",
    "prediction_method": (
        "Bayley–Pinneau, {maturity} table: at this bone age a child has reached about {percent}% "
        "of their adult height."
    ),
    "maturity_average": "average",
    "maturity_accelerated": "early-maturing (bone age a year or more ahead)",
    "maturity_retarded": "late-maturing (bone age a year or more behind)",
    "versus_within": "The predicted adult height is within the parents' target range.",
    "versus_below": "The predicted adult height is below the parents' target range.",
    "versus_above": "The predicted adult height is above the parents' target range.",
    "no_prediction_no_height": "Give the child's height today to see a predicted adult height.",
    "no_prediction_bone_age_below_tables": (
        "No adult height is predicted: the Bayley–Pinneau tables start at a bone age of 6 to 7 "
        "years, and this child's bone age is younger. The parents' target still applies."
    ),
    "no_prediction_growth_complete": (
        "No adult height is predicted: the bone age says growth has finished, so the adult "
        "height is about today's height."
    ),
    "no_prediction_outside_table": (
        "No adult height is predicted: the Bayley–Pinneau table for a child maturing this way "
        "ends before this bone age."
    ),
    "height_caveat": (
        "A predicted height is a rough guide, not a promise. The method was built on American "
        "children born around 1930, and is less reliable when growth or puberty is not "
        "typical. A doctor can tell you whether it fits your child."
    ),
    "height_chart_label": "Height chart",
    "hchart_title_male": "Height for age — boys (CDC 2000)",
    "hchart_title_female": "Height for age — girls (CDC 2000)",
    "hchart_x": "Age (years)",
    "hchart_y": "Height (cm)",
    "hchart_centiles": "3rd, 50th and 97th centiles",
    "hchart_child": "this child today",
    "hchart_prediction": "predicted adult height (interval)",
    "hchart_target": "parents' target range",
    "title_InvalidHeightError": "Check the heights",
    "error_height_not_number": (
        "“{value}” is not a height we can read. Type it in cm (for example 132.5) or in feet and "
        "inches (for example 4 ft 4 in)."
    ),
    "error_height_unit_unknown": "“{value}” is not a unit we know: use cm, or ft_in for feet and inches.",
    "error_child_implausible": (
        "{cm} cm is far outside the heights of children of this age and sex (more than 5 "
        "standard deviations away). Please check the number and its unit."
    ),
    "error_child_maybe_inches": (
        "{value} cm would be far too short for a child of this age. Did you mean {value} inches "
        "({other} cm)? Choose “feet and inches”, or type {other}."
    ),
    "error_child_maybe_cm": (
        "{value} inches ({cm} cm) would be far too tall for a child of this age. Did you mean "
        "{value} cm? Choose “cm”, or type {value} cm."
    ),
    "error_mother_implausible": (
        "The mother's height, {cm} cm, is outside adult human heights (100 to 250 cm). Please "
        "check the number and its unit."
    ),
    "error_mother_maybe_inches": (
        "The mother's height, {value} cm, is too short for an adult. Did you mean {value} inches "
        "({other} cm)? Choose “feet and inches”, or type {other}."
    ),
    "error_mother_maybe_cm": (
        "The mother's height, {value} inches ({cm} cm), is too tall for an adult. Did you mean "
        "{value} cm? Choose “cm”, or type {value} cm."
    ),
    "error_father_implausible": (
        "The father's height, {cm} cm, is outside adult human heights (100 to 250 cm). Please "
        "check the number and its unit."
    ),
    "error_father_maybe_inches": (
        "The father's height, {value} cm, is too short for an adult. Did you mean {value} inches "
        "({other} cm)? Choose “feet and inches”, or type {other}."
    ),
    "error_father_maybe_cm": (
        "The father's height, {value} inches ({cm} cm), is too tall for an adult. Did you mean "
        "{value} cm? Choose “cm”, or type {value} cm."
    ),
}

# Sourced by each device call (bash): where carried bundles go, and the wheels they hold.
# The device has torch, timm, OpenCV and Pillow; the ImageNet weight wheels travel in the bundles.
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False TQDM_MININTERVAL=5
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
export CARRY=/tmp/carry DATA=/tmp/carry/rsna-train-299
# The working tree travels without .git: train.py records this commit in the manifest instead.
[ -f .device/commit.txt ] && export BONEAGE_GIT_COMMIT=$(cat .device/commit.txt)
unpack_bundle() {  # unpack_bundle .device/bundle-NN
  python3 -m boneage.cli.bundle unpack "$1" --to "$CARRY" || return 1
  for wheel in "$CARRY"/wheels/*.whl; do  # each wheel once, as soon as its bundle is in
    [ -f "$wheel" ] && [ ! -f "/tmp/site/.${wheel##*/}" ] || continue
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$wheel" &&
      touch "/tmp/site/.${wheel##*/}"
  done
  ls "$DATA"/boneage-training-dataset 2>/dev/null | wc -l
}
split_for_return() {  # split_for_return FILE...: $OUT gives back files up to 16 MiB; Lite1's weights are 18 MB
  for file in "$@"; do split -b 15000000 -d "$file" "$file.part-" && rm "$file"; done
}

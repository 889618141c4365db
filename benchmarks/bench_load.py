"""The app under load: cold start, latency and throughput with N concurrent gradio_client callers,
for several serving settings, then a long soak with the server's memory sampled.

    python benchmarks/bench_load.py                       # full run (about 10 minutes on 2 cores)
    python benchmarks/bench_load.py --quick               # one setting, few requests

It launches ``python app.py`` exactly as a user does, on 127.0.0.1, once per serving setting
(BONEAGE_CONCURRENCY x BONEAGE_TORCH_THREADS). The model is a throwaway ``train.py`` run of one
epoch on the atlas plates, written to a temporary folder: speed depends on the architecture and
input size, not on how well it is trained, and these weights are never shipped. Pass --weights to
time a real model instead. The upload is an atlas plate resized to a full-resolution RSNA size.
Callers run in this process, on the same 2 cores as the server, so every CPU-ms they spend is
taken from the app. They talk plain HTTP to 127.0.0.1 with ``ssl_verify=False``: no TLS is
involved, and it stops httpx from building a fresh certificate-verifying SSL context for every
request (about 150 CPU-ms each here, encode/httpx#2298), which would otherwise cost more CPU than
the model.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from benchlib import ATLAS, ROOT, machine, percentile, print_table, radiograph_at_size, write_json

sys.path.insert(0, str(ROOT / "tests"))
from appserver import app_process  # noqa: E402  (the same launcher the app tests use)


def train_timing_weights(out: Path, architecture: str, size: int) -> Path:
    from train import main as train_main

    code = train_main(
        [
            *("--data", str(ATLAS), "--out", str(out), "--arch", architecture, "--size", str(size)),
            *("--epochs", "1", "--limit", "16", "--batch-size", "8", "--workers", "0"),
            *("--name", f"timing-only-{architecture}", "--dataset-name", "atlas, 1 epoch: timing only"),
        ]
    )
    if code != 0:
        raise SystemExit("train.py failed to produce timing weights")
    return out


@contextmanager
def app_server(weights: Path, concurrency: int, threads: int, log: Path, onnx_runtime: bool = True):
    """Start app.py with one serving setting; yield (url, pid, perf_counter at launch)."""
    settings = {
        "BONEAGE_CONCURRENCY": str(concurrency),
        "BONEAGE_TORCH_THREADS": str(threads),
        "BONEAGE_QUEUE_SIZE": "64",
        "BONEAGE_ONNX_RUNTIME": "1" if onnx_runtime else "0",
    }
    with app_process(weights, log, extra_env=settings) as (url, process, launched):
        yield url, process.pid, launched


def wait_for_runtime(log: Path, onnx_runtime: bool, timeout: float = 120.0) -> str:
    """The runtime the app settled on, once it has (its log says "Serving with ..." when the model
    and the chain's networks each have theirs), so that load is timed after the switch to ONNX
    Runtime, not during the exports. "onnxruntime" when every network runs there, else the line."""
    deadline = time.time() + timeout
    while onnx_runtime and time.time() < deadline:
        settled = [line for line in log.read_text().splitlines() if "Serving with " in line]
        if settled:
            return "onnxruntime" if "pytorch" not in settled[0] else settled[0].split("Serving with ", 1)[1]
        time.sleep(0.2)
    else:
        if onnx_runtime:
            raise TimeoutError(f"the app never said which runtime serves:\n{log.read_text()}")
    return "pytorch"


def drive(
    url: str, pid: int, image: Path, callers: int, per_caller: int, on_done=None, api_name: str = "/predict"
) -> dict:
    """``callers`` threads, each with its own Client, each sending ``per_caller`` requests.

    Besides latency seen by the callers it reports the server's own time per step (from the
    response's timing_ms) and the CPU time the server and the callers spent per request.
    """
    import psutil
    from gradio_client import Client, handle_file

    clients = [Client(url, verbose=False, ssl_verify=False) for _ in range(callers)]
    server, me = psutil.Process(pid), psutil.Process()
    latencies: list[float] = []
    steps: dict[str, list[float]] = {}
    errors: list[str] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(callers + 1)

    def caller(client: Client, index: int) -> None:
        start_gate.wait()
        for request in range(per_caller):
            sex = "female" if (index + request) % 2 else "male"
            t0 = time.perf_counter()
            try:
                result = client.predict(handle_file(str(image)), sex, 120, api_name=api_name)
                if api_name == "/predict":
                    assert 0 <= result["bone_age_months"] <= 240
                    with lock:
                        for step, ms in result["timing_ms"].items():
                            steps.setdefault(step, []).append(ms)
                else:  # /report and /heatmap answer with a file
                    assert Path(result).stat().st_size > 0
            except Exception as exc:  # count, never stop: the point is to see them
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                continue
            with lock:
                latencies.append(time.perf_counter() - t0)
                done = len(latencies)
            if on_done:
                on_done(done)

    threads = [threading.Thread(target=caller, args=(c, i)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    cpu_before = (_cpu_s(server), _cpu_s(me))
    start_gate.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    served = max(1, len(latencies))
    server_cpu, caller_cpu = (
        (_cpu_s(p) - before) / served for p, before in zip((server, me), cpu_before, strict=True)
    )
    for client in clients:
        client.close()
    return {
        "callers": callers,
        "requests": callers * per_caller,
        "errors": len(errors),
        "error_examples": sorted(set(errors))[:3],
        "p50_s": statistics.median(latencies) if latencies else None,
        "p95_s": percentile(latencies, 0.95) if latencies else None,
        "max_s": max(latencies) if latencies else None,
        "throughput_per_s": len(latencies) / wall,
        "wall_s": wall,
        **{f"server_{step}_p50_ms": statistics.median(values) for step, values in steps.items()},
        "server_cpu_ms_per_request": 1000 * server_cpu,
        "caller_cpu_ms_per_request": 1000 * caller_cpu,
    }


def _cpu_s(process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def first_prediction_s(url: str, image: Path) -> float:
    from gradio_client import Client, handle_file

    t0 = time.perf_counter()
    client = Client(url, verbose=False, ssl_verify=False)
    client.predict(handle_file(str(image)), "male", 120, api_name="/predict")
    elapsed = time.perf_counter() - t0
    client.close()
    return elapsed


def page_interactive_s(url: str, repeats: int = 3) -> float | None:
    """Median seconds from navigation to a usable form in headless Chromium (None without it).

    "Usable" is the estimate button visible and the page's own load events done: what a parent
    waits for before they can upload.
    """
    import shutil

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path(chromium).exists():
        return None
    times = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"], headless=True)
        for _ in range(repeats):
            page = browser.new_context().new_page()  # a fresh cache each time
            t0 = time.perf_counter()
            page.goto(url, wait_until="load")
            page.wait_for_selector("#estimate", state="visible")
            page.wait_for_function("() => document.querySelector('#estimate:not([disabled])') !== null")
            times.append(time.perf_counter() - t0)
            page.context.close()
        browser.close()
    return statistics.median(times)


def soak(url: str, pid: int, image: Path, total: int, callers: int) -> dict:
    """``total`` requests from ``callers`` callers; server RSS sampled every 50 answers."""
    import psutil

    server = psutil.Process(pid)
    samples: list[tuple[int, float]] = [(0, server.memory_info().rss / 2**20)]

    def sample(done: int) -> None:
        if done % 50 == 0:
            samples.append((done, server.memory_info().rss / 2**20))

    load = drive(url, pid, image, callers, total // callers, on_done=sample)
    samples.append((load["requests"] - load["errors"], server.memory_info().rss / 2**20))
    warm = [rss for done, rss in samples if done >= total // 10] or [samples[-1][1]]
    return {
        **load,
        "rss_start_mb": samples[0][1],
        "rss_after_warmup_mb": warm[0],
        "rss_end_mb": samples[-1][1],
        "rss_max_mb": max(rss for _, rss in samples),
        "rss_growth_after_warmup_mb": samples[-1][1] - warm[0],
        "rss_samples": [(done, round(rss, 1)) for done, rss in samples],
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--weights", type=Path, help="a weights folder (default: train a timing-only model)")
    parser.add_argument("--arch", default="efficientnet-b0-sex")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--image", type=Path, help="the upload (default: an atlas plate at --long-side px)")
    parser.add_argument("--long-side", type=int, default=2000)
    parser.add_argument("--settings", default="1x2,2x1,2x2,4x1", help="CONCURRENCYxTHREADS,...")
    parser.add_argument("--callers", default="1,4,8,16")
    parser.add_argument("--per-caller", type=int, default=8)
    parser.add_argument("--soak", type=int, default=500, help="requests in the soak (0: skip)")
    parser.add_argument("--extras", type=int, default=10, help="sequential /report and /heatmap requests")
    parser.add_argument("--soak-setting", help="CONCURRENCYxTHREADS for the soak (default: the fastest)")
    parser.add_argument("--quick", action="store_true", help="one setting, 1 and 8 callers, 200-request soak")
    parser.add_argument(
        "--pytorch", action="store_true", help="serve with PyTorch only (BONEAGE_ONNX_RUNTIME=0)"
    )
    parser.add_argument("--out", default="load.json")
    args = parser.parse_args()
    if args.quick:
        args.settings, args.callers, args.per_caller, args.soak, args.extras = "2x1", "1,8", 4, 200, 5

    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        tmp = Path(tmp)
        weights = args.weights or train_timing_weights(tmp / "weights", args.arch, args.size)
        image = args.image or radiograph_at_size(args.long_side, tmp / "upload.png")
        settings = [tuple(int(x) for x in s.split("x")) for s in args.settings.split(",")]
        callers = [int(c) for c in args.callers.split(",")]
        rows = []
        for concurrency, threads in settings:
            log = tmp / "app.log"
            with app_server(weights, concurrency, threads, log, not args.pytorch) as (url, pid, launched):
                page = time.perf_counter() - launched
                first = first_prediction_s(url, image)
                ready = time.perf_counter() - launched
                runtime = wait_for_runtime(log, not args.pytorch)
                for count in callers:
                    result = drive(url, pid, image, count, args.per_caller)
                    rows.append(
                        {"concurrency": concurrency, "torch_threads": threads, "runtime": runtime, **result}
                    )
                    rows[-1].update(
                        cold_start_page_s=page, cold_start_first_answer_s=ready, first_prediction_s=first
                    )
                    print(f"{concurrency}x{threads} {count} callers: {rows[-1]['throughput_per_s']:.2f}/s")
        at_eight = [r for r in rows if r["callers"] == max(callers)]
        best = max(at_eight, key=lambda r: r["throughput_per_s"])
        soak_setting = (
            tuple(int(x) for x in args.soak_setting.split("x"))
            if args.soak_setting
            else (best["concurrency"], best["torch_threads"])
        )
        soak_result, extras, interactive = None, [], None
        if args.soak or args.extras:
            with app_server(weights, *soak_setting, tmp / "soak.log", not args.pytorch) as (url, pid, _):
                first_prediction_s(url, image)
                wait_for_runtime(tmp / "soak.log", not args.pytorch)
                interactive = page_interactive_s(url)
                if interactive is not None:
                    print(f"page interactive after {interactive:.2f} s")
                for endpoint in ("/report", "/heatmap") if args.extras else ():
                    extras.append(
                        {"endpoint": endpoint, **drive(url, pid, image, 1, args.extras, api_name=endpoint)}
                    )
                    print(f"{endpoint}: p50 {extras[-1]['p50_s']:.3f} s")
        if args.soak:  # a fresh server, so its memory is that of the soak alone
            with app_server(weights, *soak_setting, tmp / "soak.log", not args.pytorch) as (url, pid, _):
                first_prediction_s(url, image)
                wait_for_runtime(tmp / "soak.log", not args.pytorch)
                soak_result = {
                    "concurrency": soak_setting[0],
                    "torch_threads": soak_setting[1],
                    **soak(url, pid, image, args.soak, max(callers)),
                }
        from boneage.weights import Manifest

        manifest = Manifest.load(Path(weights) / "manifest.json")
        import cv2

        height, width = cv2.imread(str(image), cv2.IMREAD_UNCHANGED).shape[:2]
        upload = {"width": width, "height": height, "bytes": image.stat().st_size}
    result = {
        "machine": machine(),
        "model": {
            "architecture": manifest.architecture,
            "input_px": manifest.input_size,
            "name": manifest.name,
        },
        "upload": upload,
        "rows": rows,
        "page_interactive_s": interactive,
        "extras": extras,
        "soak": soak_result,
    }
    print()
    print_table(
        rows,
        [
            "concurrency",
            "torch_threads",
            "runtime",
            "callers",
            "requests",
            "errors",
            "p50_s",
            "p95_s",
            "throughput_per_s",
            "server_decode_p50_ms",
            "server_preprocess_p50_ms",
            "server_model_p50_ms",
            "server_cpu_ms_per_request",
            "caller_cpu_ms_per_request",
            "cold_start_page_s",
            "cold_start_first_answer_s",
        ],
    )
    if extras:
        print()
        print_table(extras, ["endpoint", "requests", "errors", "p50_s", "p95_s", "server_cpu_ms_per_request"])
    if soak_result:
        print(
            f"\nsoak {soak_result['concurrency']}x{soak_result['torch_threads']}: {soak_result['requests']} requests, "
            f"{soak_result['errors']} errors, p50 {soak_result['p50_s']:.2f} s, p95 {soak_result['p95_s']:.2f} s, "
            f"{soak_result['throughput_per_s']:.2f}/s; server RSS {soak_result['rss_after_warmup_mb']:.0f} MB after "
            f"warm-up -> {soak_result['rss_end_mb']:.0f} MB at the end (max {soak_result['rss_max_mb']:.0f} MB)"
        )
    write_json(args.out, result)
    errors = sum(r["errors"] for r in [*rows, *extras]) + (soak_result["errors"] if soak_result else 0)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

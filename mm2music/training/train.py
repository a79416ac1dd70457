"""The training loop: reproducible, resumable, optionally multi-process (torchrun, DDP over gloo).

Every run lives in its own folder ``<runs_dir>/<name>-<UTC time>/``::

    config.yaml        the resolved TrainConfig (what ``--resume`` reads back)
    run.json           seed, git commit, data-manifest hash, tokenizer hash, piece counts, versions
    tokenizer.json     the tokenizer (also inside every checkpoint)
    metrics.csv        step, tokens, lr, train loss, grad norm, valid NLL per token, speed
    tb/                the same metrics for TensorBoard
    train.log          the log
    checkpoints/LATEST name of the newest resumable checkpoint folder (written last, atomically)
    checkpoints/step-000500/  model.safetensors, optimizer.safetensors, state.json
    checkpoints/best/  the best valid-NLL model as a loadable checkpoint (model + config + tokenizer)

Reproducibility: the batch of step ``s`` is a pure function of ``(seed, s)`` (see ``dataset.py``), the
model is built under ``torch.manual_seed(seed)``, dropout is 0 and the LR is a function of the step, so a
run killed at any moment and resumed from its last checkpoint (weights, AdamW moments, step, RNG state:
safetensors + JSON, no pickle) ends with the same weights as an uninterrupted run. The loss is the mean
over the target tokens of the whole global batch, so 2 processes with half the batch each compute the
same gradient as one process with all of it.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import torch
import torch.distributed as dist
import yaml

from mm2music.config import from_dict, load_config
from mm2music.errors import CheckpointError, ConfigError, CorpusError
from mm2music.music.checkpoint import save_checkpoint
from mm2music.music.model import ModelConfig, MusicTransformer
from mm2music.music.tokenizer import MusicTokenizer, TokenizerSettings
from mm2music.music.attributes import KEY_ANALYSIS_BARS
from mm2music.music.terms import checkpoint_training_data, write_training_record
from mm2music.training.dataset import DataConfig, IGNORE, WindowDataset, load_rows, manifest_hash, resolve_corpus_dir

log = logging.getLogger(__name__)

MAX_CHECKPOINT_MB = 30.0


@dataclass
class OptimConfig:
    lr: float = 1e-3  # peak learning rate
    min_lr: float = 1e-4  # end of the cosine decay
    warmup_steps: int = 200  # linear warmup from 0
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    grad_clip: float = 1.0  # max global gradient norm


@dataclass
class TrainConfig:
    name: str = "music21"
    seed: int = 0
    steps: int = 2000  # optimizer steps
    batch_size: int = 16  # windows per step, all processes together
    bf16: bool = True  # bf16 autocast on CPU (measured 7,390 vs 4,670 tokens/s)
    threads: int = 0  # torch threads per process; 0 = CPU cores / processes
    log_every: int = 10
    eval_every: int = 250
    ckpt_every: int = 100  # a multiple of log_every
    keep_checkpoints: int = 2
    runs_dir: str = "runs"
    init: str = ""  # a checkpoint folder to start from (fine-tuning); its model and tokenizer must be this config's
    model: ModelConfig = field(default_factory=ModelConfig)
    tokenizer: TokenizerSettings = field(default_factory=TokenizerSettings)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)

    def __post_init__(self) -> None:
        if self.ckpt_every % self.log_every or self.eval_every % self.log_every:
            raise ConfigError(
                f"ckpt_every ({self.ckpt_every}) and eval_every ({self.eval_every}) must be multiples of log_every ({self.log_every})"
            )
        if self.steps < 1 or self.batch_size < 1:
            raise ConfigError(f"steps ({self.steps}) and batch_size ({self.batch_size}) must be >= 1")

    def to_dict(self) -> dict:
        return _plain(dataclasses.asdict(self))


def _plain(obj):
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    return obj


def load_train_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    return load_config(path, overrides, cls=TrainConfig)


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup to ``lr`` then cosine decay to ``min_lr`` at the last step (step counts from 1)."""
    o = cfg.optim
    if step <= o.warmup_steps:
        return o.lr * step / max(1, o.warmup_steps)
    progress = (step - o.warmup_steps) / max(1, cfg.steps - o.warmup_steps)
    return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


# --- distributed helpers -----------------------------------------------------------------------------


def _dist_info() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("gloo")
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def _barrier() -> None:
    if dist.is_initialized():
        dist.barrier()


def _all_sum(values: list[float]) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64)
    if dist.is_initialized():
        dist.all_reduce(t)
    return t.tolist()


def _broadcast(obj):
    if not dist.is_initialized():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


# --- resumable training state (safetensors + JSON, no pickle) ----------------------------------------


def _save_training_state(ckpt_root: Path, step: int, model: MusicTransformer, opt: torch.optim.Optimizer, state: dict, keep: int) -> Path:
    from safetensors.torch import save_file

    name = f"step-{step:07d}"
    tmp = ckpt_root / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_file(weights, str(tmp / "model.safetensors"))
    sd = opt.state_dict()
    tensors = {}
    for pid, st in sd["state"].items():
        for k, v in st.items():
            tensors[f"state.{pid}.{k}"] = v.detach().cpu().contiguous() if torch.is_tensor(v) else torch.tensor(v)
    tensors["rng.torch"] = torch.get_rng_state()
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    (tmp / "state.json").write_text(json.dumps({**state, "step": step, "param_groups": groups}, indent=1))
    final = ckpt_root / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    latest_tmp = ckpt_root / ".LATEST.tmp"
    latest_tmp.write_text(name + "\n")
    os.replace(latest_tmp, ckpt_root / "LATEST")
    for old in sorted(p for p in ckpt_root.glob("step-*") if p.name != name)[:-max(0, keep - 1) or None]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _load_training_state(ckpt_root: Path, model: MusicTransformer, opt: torch.optim.Optimizer) -> dict:
    from safetensors.torch import load_file

    latest = ckpt_root / "LATEST"
    if not latest.exists():
        raise CheckpointError(f"no resumable checkpoint in '{ckpt_root}' (no LATEST file); start a new run instead")
    folder = ckpt_root / latest.read_text().strip()
    try:
        state = json.loads((folder / "state.json").read_text())
        weights = load_file(str(folder / "model.safetensors"))
        tensors = load_file(str(folder / "optimizer.safetensors"))
    except Exception as exc:  # any unreadable file: one line, with the folder
        raise CheckpointError(f"cannot read training checkpoint '{folder}': {str(exc).splitlines()[0]}; delete it and point LATEST at an older one") from None
    model.load_state_dict(weights, strict=False)
    opt_state: dict = {}
    for key, value in tensors.items():
        if key.startswith("state."):
            _, pid, name = key.split(".", 2)
            opt_state.setdefault(int(pid), {})[name] = value
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in state.pop("param_groups")]
    opt.load_state_dict({"state": opt_state, "param_groups": groups})
    torch.set_rng_state(tensors["rng.torch"])
    return state


# --- run folder ----------------------------------------------------------------------------------------


def _git_commit() -> str:
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "mm2music", "pipelines", "configs"], cwd=root,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _truncate_metrics(path: Path, step: int) -> None:
    """Drop metric rows after ``step`` (they are recomputed after a resume)."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    keep = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= step]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(keep)


METRIC_FIELDS = ["step", "tokens", "lr", "train_loss", "grad_norm", "valid_nll", "tokens_per_s", "elapsed_s"]


def _evaluate(model: MusicTransformer, batches, bf16: bool, rank: int, world: int) -> float:
    """Mean NLL (nats) per music target token over the fixed valid windows."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0.0
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        for i, (x, y) in enumerate(batches):
            if i % world != rank:
                continue
            logits, _ = model(x)
            nll = torch.nn.functional.cross_entropy(
                logits.float().view(-1, logits.size(-1)), y.reshape(-1), ignore_index=IGNORE, reduction="sum"
            )
            total += float(nll)
            count += float((y != IGNORE).sum())
    model.train(was_training)
    total, count = _all_sum([total, count])
    return total / max(count, 1.0)


def evaluate_split(model: MusicTransformer, tokenizer: MusicTokenizer, data: DataConfig, split: str = "test",
                   limit: int = 256, batch_size: int = 16, bf16: bool = False) -> dict:
    """Held-out NLL (nats per music token) of ``model`` on the first window of up to ``limit`` pieces of
    ``split`` (hash order, untransposed, the condition prefix in front), as in training's valid metric."""
    rows = sorted(load_rows(dataclasses.replace(data, max_pieces=0), split), key=lambda r: hashlib.sha1(r["id"].encode()).hexdigest())[:limit]
    if not rows:
        raise CorpusError(f"no '{split}' pieces in '{resolve_corpus_dir(data)}'; check the corpus conversion")
    ds = WindowDataset(rows, tokenizer, data, progress=False)
    batches = ds.eval_batches(model.config.block_size, batch_size, limit)
    tokens = sum(int((y != IGNORE).sum()) for _, y in batches)
    return {"split": split, "pieces": len(ds), "tokens": tokens, "nll_per_token": _evaluate(model, batches, bf16, 0, 1)}


def train(config: TrainConfig, run_dir: str | Path | None = None, resume: bool = False, progress: bool = True) -> Path:
    """Train (or resume, with ``resume=True`` and the run's folder) and return the run folder."""
    rank, world = _dist_info()
    if config.batch_size % world:
        raise ConfigError(f"batch_size {config.batch_size} is not divisible by {world} processes")
    threads = config.threads or max(1, (os.cpu_count() or 1) // world)
    torch.set_num_threads(threads)
    cfg = config
    tokenizer = MusicTokenizer(cfg.tokenizer)
    model_cfg = dataclasses.replace(cfg.model, vocab_size=tokenizer.vocab_size)
    cfg = dataclasses.replace(cfg, model=model_cfg)

    # run folder (named by rank 0)
    if run_dir is None:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        run_dir = Path(cfg.runs_dir) / f"{cfg.name}-{stamp}"
    run_dir = Path(_broadcast(str(run_dir)))
    ckpt_root = run_dir / "checkpoints"
    if rank == 0:
        if not resume and run_dir.exists() and any(run_dir.iterdir()):
            raise ConfigError(f"run folder '{run_dir}' exists; resume it with --resume {run_dir} or pick another name")
        ckpt_root.mkdir(parents=True, exist_ok=True)
    _barrier()
    file_handler = None
    if rank == 0:
        file_handler = logging.FileHandler(run_dir / "train.log")
        file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.getLogger("mm2music").addHandler(file_handler)
    try:
        return _train(cfg, tokenizer, run_dir, ckpt_root, resume, progress, rank, world, threads)
    finally:
        if file_handler is not None:
            logging.getLogger("mm2music").removeHandler(file_handler)
            file_handler.close()


def _train(cfg: TrainConfig, tokenizer: MusicTokenizer, run_dir: Path, ckpt_root: Path, resume: bool,
           progress: bool, rank: int, world: int, threads: int) -> Path:
    from tqdm import tqdm

    corpus_dir = resolve_corpus_dir(cfg.data)
    train_rows = load_rows(cfg.data, "train")
    valid_rows = load_rows(dataclasses.replace(cfg.data, max_pieces=0), "valid")
    # valid windows: a fixed spread over sources (hash order), not the alphabetically first pieces
    valid_rows = sorted(valid_rows, key=lambda r: hashlib.sha1(r["id"].encode()).hexdigest())[: cfg.data.eval_windows]
    pieces_path = run_dir / "pieces.json"
    if resume and pieces_path.exists():  # the manifest may have grown since: train on the run's own pieces
        chosen = json.loads(pieces_path.read_text())
        train_ids, valid_ids = set(chosen["train"]), chosen["valid"]
        train_rows = [r for r in load_rows(dataclasses.replace(cfg.data, max_pieces=0), "train") if r["id"] in train_ids]
        by_id = {r["id"]: r for r in load_rows(dataclasses.replace(cfg.data, max_pieces=0), "valid")}
        valid_rows = [by_id[i] for i in valid_ids if i in by_id]
        if len(train_rows) != len(train_ids):
            raise CorpusError(f"{len(train_ids) - len(train_rows)} train pieces of run '{run_dir}' are gone from the manifest in '{corpus_dir}'; resume needs the same corpus")
    if not train_rows:
        raise CorpusError(f"no train pieces in '{corpus_dir}' with sources {cfg.data.sources or 'all'}; check data.sources")
    # rank 0 tokenizes (once, cached); the others read its cache
    if rank == 0:
        train_ds = WindowDataset(train_rows, tokenizer, cfg.data, progress)
        valid_ds = WindowDataset(valid_rows, tokenizer, cfg.data, progress) if valid_rows else None
    _barrier()
    if rank != 0:
        train_ds = WindowDataset(train_rows, tokenizer, cfg.data, False)
        valid_ds = WindowDataset(valid_rows, tokenizer, cfg.data, False) if valid_rows else None
    T = cfg.model.block_size
    eval_batches = valid_ds.eval_batches(T, cfg.batch_size, cfg.data.eval_windows) if valid_ds else []

    structured = None
    if cfg.data.structured_share > 0:
        from mm2music.training.structured import StructuredSet, structured_dir

        structured = StructuredSet(structured_dir(cfg.data, tokenizer), tokenizer)

    torch.manual_seed(cfg.seed)
    model = MusicTransformer(cfg.model)
    if cfg.init and not resume:
        _init_from(model, tokenizer, cfg.init)
    opt = model.configure_optimizer(cfg.optim.lr, cfg.optim.weight_decay, (cfg.optim.beta1, cfg.optim.beta2))
    n_params = model.num_params()
    if n_params * 4 / 2**20 > MAX_CHECKPOINT_MB:
        raise ConfigError(f"model has {n_params / 1e6:.1f} M parameters = {n_params * 4 / 2**20:.1f} MB in fp32, over the {MAX_CHECKPOINT_MB:.0f} MB checkpoint budget; shrink model.n_embd or model.n_layer")

    state = {"tokens": 0, "best_valid_nll": None, "best_step": None, "elapsed_s": 0.0}
    start_step = 0
    if resume:
        state = _load_training_state(ckpt_root, model, opt)
        start_step = int(state.pop("step"))
        log.info("resumed %s at step %d", run_dir, start_step)
    elif rank == 0:
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        tokenizer.save(run_dir / "tokenizer.json")
        import importlib.metadata

        info = {
            "name": cfg.name,
            "seed": cfg.seed,
            "git_commit": _git_commit(),
            "corpus_dir": str(corpus_dir),
            "manifest_sha256": manifest_hash(corpus_dir),
            "tokenizer_hash": tokenizer.hash,
            "pieces": {"train": len(train_ds), "valid": len(valid_ds) if valid_ds else 0},
            "train_tokens": train_ds.n_tokens,
            "init": cfg.init or None,
            "structured": None if structured is None else {"share": cfg.data.structured_share, **structured.summary},
            "families": families_of(train_rows, tokenizer),
            "parameters": n_params,
            "world_size": world,
            "threads_per_process": threads,
            "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(sys.argv),
            "versions": {"torch": torch.__version__, "miditok": importlib.metadata.version("miditok"), "python": sys.version.split()[0]},
        }
        (run_dir / "run.json").write_text(json.dumps(info, indent=1) + "\n")
        pieces_path.write_text(json.dumps({"train": [r["id"] for r in train_rows], "valid": [r["id"] for r in valid_rows]}) + "\n")
    _barrier()

    ddp = model
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        ddp = DistributedDataParallel(model)  # no buffers to sync

    metrics_path = run_dir / "metrics.csv"
    writer = None
    if rank == 0:
        _truncate_metrics(metrics_path, start_step)
        if not metrics_path.exists():
            with metrics_path.open("w", newline="") as f:
                csv.writer(f).writerow(METRIC_FIELDS)
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(run_dir / "tb"), purge_step=start_step + 1)
        log.info("run %s: %d train pieces (%d tokens), %d valid windows, %.2f M parameters, %d process(es) x %d threads, steps %d..%d",
                 run_dir, len(train_ds), train_ds.n_tokens, sum(len(b[0]) for b in eval_batches), n_params / 1e6, world, threads,
                 start_step + 1, cfg.steps)

    per_rank = cfg.batch_size // world
    items = range(rank * per_rank, (rank + 1) * per_rank)
    loss_sum, loss_n = 0.0, 0
    t_last, tokens_last = time.perf_counter(), state["tokens"]
    elapsed_at_start, t_start = state["elapsed_s"], time.perf_counter()
    bar = tqdm(total=cfg.steps, initial=start_step, desc="train", unit="step", disable=not progress or rank != 0, mininterval=5.0)
    model.train()
    for step in range(start_step + 1, cfg.steps + 1):
        lr = lr_at(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        if structured is None:
            x, y = train_ds.batch(cfg.seed, step, items, T)
        else:
            from mm2music.training.structured import mixed_batch

            x, y = mixed_batch(train_ds, structured, cfg.data.structured_share, cfg.seed, step, items, T)
        n_local = float((y != IGNORE).sum())
        n_global = _all_sum([n_local])[0] if world > 1 else n_local
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
            logits, _ = ddp(x)
        # sum over this process's targets / targets of the global batch; DDP averages over processes
        loss = torch.nn.functional.cross_entropy(
            logits.float().view(-1, logits.size(-1)), y.reshape(-1), ignore_index=IGNORE, reduction="sum"
        ) * (world / n_global)
        loss.backward()
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip))
        opt.step()
        opt.zero_grad(set_to_none=True)
        state["tokens"] += cfg.batch_size * T
        loss_sum += float(loss.detach()) / world
        loss_n += 1
        bar.update()

        valid_nll = None
        if eval_batches and (step % cfg.eval_every == 0 or step == cfg.steps):
            valid_nll = _evaluate(model, eval_batches, cfg.bf16, rank, world)
            if state["best_valid_nll"] is None or valid_nll < state["best_valid_nll"]:
                state["best_valid_nll"], state["best_step"] = valid_nll, step
                if rank == 0:
                    save_checkpoint(ckpt_root / "best", model, tokenizer, _summary(cfg, state, step, run_dir))
        if step % cfg.log_every == 0 or step == cfg.steps:
            train_loss = _all_sum([loss_sum])[0] / loss_n if world > 1 else loss_sum / loss_n
            now = time.perf_counter()
            speed = (state["tokens"] - tokens_last) / max(now - t_last, 1e-9)
            t_last, tokens_last = now, state["tokens"]
            elapsed = elapsed_at_start + now - t_start
            if rank == 0:
                row = [step, state["tokens"], f"{lr:.6g}", f"{train_loss:.5f}", f"{grad_norm:.4f}",
                       "" if valid_nll is None else f"{valid_nll:.5f}", f"{speed:.0f}", f"{elapsed:.1f}"]
                with metrics_path.open("a", newline="") as f:
                    csv.writer(f).writerow(row)
                writer.add_scalar("train/loss", train_loss, step)
                writer.add_scalar("train/lr", lr, step)
                writer.add_scalar("train/grad_norm", grad_norm, step)
                writer.add_scalar("train/tokens_per_s", speed, step)
                if valid_nll is not None:
                    writer.add_scalar("valid/nll_per_token", valid_nll, step)
                eta = (cfg.steps - step) * cfg.batch_size * T / max(speed, 1e-9)
                log.info("step %d/%d loss %.4f%s lr %.2e %.0f tok/s ETA %.0f min", step, cfg.steps, train_loss,
                         "" if valid_nll is None else f" valid_nll {valid_nll:.4f}", lr, speed, eta / 60)
            loss_sum, loss_n = 0.0, 0
        if step % cfg.ckpt_every == 0 or step == cfg.steps:
            state["elapsed_s"] = elapsed_at_start + time.perf_counter() - t_start
            if rank == 0:
                writer.flush()
                _save_training_state(ckpt_root, step, model, opt, state, cfg.keep_checkpoints)
            _barrier()
    bar.close()
    if writer is not None:
        writer.close()
    if rank == 0:
        log.info("finished %s: %d steps, %d tokens, best valid NLL %s at step %s", run_dir, cfg.steps, state["tokens"],
                 state["best_valid_nll"], state["best_step"])
    return run_dir


def _init_from(model: MusicTransformer, tokenizer: MusicTokenizer, path: str) -> None:
    """Load a checkpoint's weights into ``model`` (fine-tuning); the checkpoint must have this run's model shape and
    tokenizer."""
    from mm2music.music.checkpoint import load_checkpoint

    init, init_tokenizer, _ = load_checkpoint(path)
    if init_tokenizer.hash != tokenizer.hash:
        raise ConfigError(f"init checkpoint '{path}' has tokenizer {init_tokenizer.hash}, this config's is {tokenizer.hash}; "
                          "copy its tokenizer settings into the config")
    if dataclasses.asdict(init.config) != dataclasses.asdict(model.config):
        ours, theirs = dataclasses.asdict(model.config), dataclasses.asdict(init.config)
        name = next(k for k in ours if ours[k] != theirs.get(k))
        raise ConfigError(f"init checkpoint '{path}' has model.{name}={theirs.get(name)}, this config has {ours[name]}; "
                          "use the checkpoint's model settings")
    model.load_state_dict(init.state_dict())
    log.info("initialised from %s", path)


def _summary(cfg: TrainConfig, state: dict, step: int, run_dir: Path) -> dict:
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    return {
        "run": run_dir.name,
        "step": step,
        "steps_planned": cfg.steps,
        "tokens_seen": state["tokens"],
        "valid_nll_per_token": state["best_valid_nll"],
        "batch_size": cfg.batch_size,
        "window": cfg.model.block_size,
        "seed": cfg.seed,
        "git_commit": run.get("git_commit"),
        "manifest_sha256": run.get("manifest_sha256"),
        "corpus_dir": run.get("corpus_dir"),
        "pieces": run.get("pieces"),
        "train_tokens": run.get("train_tokens"),
        "families": run.get("families"),
        "config": cfg.to_dict(),
    }


def families_of(rows: list[dict], tokenizer: MusicTokenizer) -> dict[str, int]:
    """Pieces per instrument family in the condition prefix of ``rows`` (manifest rows): what the model learned a
    ``Family_*`` condition from (a family no piece carries is in the vocabulary but means nothing to the model)."""
    from collections import Counter

    from mm2music.music.tokenizer import Conditions

    counts: Counter = Counter()
    for r in rows:
        counts.update(Conditions.from_attributes(r.get("attributes") or {}).families[: tokenizer.settings.max_families])
    return dict(counts.most_common())


def read_run_config(run_dir: str | Path) -> TrainConfig:
    path = Path(run_dir) / "config.yaml"
    if not path.exists():
        raise ConfigError(f"'{run_dir}' is not a run folder (no config.yaml); give a folder under runs/")
    return from_dict(TrainConfig, yaml.safe_load(path.read_text()))


# --- export ----------------------------------------------------------------------------------------------


def export_run(run_dir: str | Path, out_dir: str | Path = "checkpoints/music21") -> Path:
    """Copy a run's best checkpoint to ``out_dir`` (<= 30 MB) and write its MODEL_CARD.md."""
    from mm2music.music.checkpoint import CONFIG, TOKENIZER, WEIGHTS, load_checkpoint

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    best = run_dir / "checkpoints" / "best"
    model, tokenizer, config = load_checkpoint(best)  # validates before anything is copied
    size_mb = (best / WEIGHTS).stat().st_size / 2**20
    if size_mb > MAX_CHECKPOINT_MB:
        raise CheckpointError(f"'{best / WEIGHTS}' is {size_mb:.1f} MB, over the {MAX_CHECKPOINT_MB:.0f} MB budget; train a smaller model")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (WEIGHTS, CONFIG, TOKENIZER):
        shutil.copyfile(best / name, out_dir / f".{name}.tmp")
        os.replace(out_dir / f".{name}.tmp", out_dir / name)
    write_training_record(out_dir, _run_sources(run_dir, config), _pieces_by_source(run_dir, config),
                          config.get("training", {}).get("families"))
    (out_dir / "MODEL_CARD.md").write_text(_model_card(run_dir, config, model, tokenizer, size_mb, out_dir) + "\n" + _training_data_md(out_dir))
    log.info("exported %s (step %s) to %s", best, config["training"].get("step"), out_dir)
    return out_dir


def _run_sources(run_dir: Path, config: dict) -> list[str]:
    """The manifest sources a run trained on (``data.sources``; [] = all of them)."""
    data = config.get("training", {}).get("config", {}).get("data") or config.get("data") or {}
    return list(data.get("sources") or [])


def _pieces_by_source(run_dir: Path, config: dict) -> dict[str, int]:
    """Train pieces per source of the run's corpus (its summary.json), limited to the run's sources."""
    corpus = config.get("training", {}).get("corpus_dir")
    try:
        counts = json.loads((Path(corpus) / "summary.json").read_text())["pieces_by_source"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    wanted = _run_sources(run_dir, config)
    return {s: n for s, n in counts.items() if not wanted or s in wanted}


def _training_data_md(out_dir: Path) -> str:
    record = checkpoint_training_data(out_dir)
    rows = "\n".join(f"| {r['source']} | {r['pieces'] if r['pieces'] is not None else '?'} | {r['commercial']} | {r['terms']} |"
                     for r in record["collections"])
    families = record.get("families") or {}
    fams = ("\nInstrument families of the train pieces (the `Family_*` conditions it learned; any other family is "
            "in the vocabulary but was never seen): " + ", ".join(f"{f} {n}" for f, n in families.items()) + ".\n") if families else ""
    return (f"## Training data and its terms\n\n{record['summary']}.\n\n| collection | pieces | commercial use | what its files say |\n"
            f"|---|---|---|---|\n{rows}\n{fams}")


def _model_card(run_dir: Path, config: dict, model: MusicTransformer, tokenizer: MusicTokenizer, size_mb: float,
                out_dir: Path = Path("checkpoints/music21")) -> str:
    t = config.get("training", {})
    m = config["model"]
    run = json.loads((run_dir / "run.json").read_text()) if (run_dir / "run.json").exists() else {}
    last = {}
    if (run_dir / "metrics.csv").exists():
        with (run_dir / "metrics.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
        last = rows[-1] if rows else {}
    nll = t.get("valid_nll_per_token")
    args = run.get("command", "").split(" ", 1)[-1] if run.get("command") else "--config configs/train/music21.yaml"
    args = re.sub(r"\s*--run-dir\s+\S+|\s*--no-progress", "", args)
    launcher = (f"OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node {run['world_size']} "
                if run.get("world_size", 1) > 1 else "python ")
    cfg_name = f"{launcher}pipelines/train.py {args}"
    pieces = t.get("pieces") or {}
    data = (t.get("config") or {}).get("data") or {}
    sources = list(data.get("sources") or [])
    export = "" if out_dir == Path("checkpoints/music21") else f" --to {out_dir}"
    style = (f"only {', '.join(sources)} of music21's corpus (instrument families {', '.join(t.get('families') or {}) or 'not recorded'})"
             if sources else "mostly folk melodies (Essen, O'Neill), Bach chorales and Renaissance polyphony")
    return f"""# mm2music music decoder: `{run_dir.name}`

A causal Transformer over miditok 3.1.0 REMI tokens (one stream with programs, tempos and time
signatures) with a condition prefix (key, tempo band, meter, note density, register, polyphony,
instrument families{", opening: does the music start where a piece starts" if tokenizer.settings.opening_slot else ""}).
Trained on this project's CPU (2 cores, bf16 autocast) by the committed config.

| | |
|---|---|
| parameters | {model.num_params() / 1e6:.2f} M ({m['n_layer']} layers, d={m['n_embd']}, {m['n_head']} heads, context {m['block_size']}) |
| weights | `model.safetensors`, fp32, {size_mb:.1f} MB |
| vocabulary | {tokenizer.vocab_size} tokens ({tokenizer.remi_vocab_size} REMI + {len(tokenizer.condition_tokens)} condition), tokenizer v{config['tokenizer']['version']} (`tokenizer.json`, hash {tokenizer.hash}) |
| data | music21's corpus converted by `pipelines/prepare_corpus.py` (`<user cache>/mm2music/corpora/{Path(t.get('corpus_dir') or '?').name}`: {pieces.get('train', '?')} train pieces, {t.get('train_tokens', '?')} tokens; {pieces.get('valid', '?')} valid pieces evaluated), manifest sha256 `{(t.get('manifest_sha256') or '')[:16]}` |
| split | by piece-id hash (94/3/3 train/valid/test), never by window |
| augmentation | random transposition within +-{data.get('max_shift', 6)} semitones keeping pitches in range (every key is seen) |
| key labels | {f"the key of each window's first {data['key_window_bars']} bars (data.key_window_bars)" if data.get('key_window_bars') else f"the piece's key (first {KEY_ANALYSIS_BARS} bars)"} |
| this checkpoint | step {t.get('step')} of {t.get('steps_planned')}, {t.get('tokens_seen', 0) / 1e6:.1f} M tokens seen (batch {t.get('batch_size')} x {t.get('window')}) |
| valid NLL | {nll if nll is None else f'{nll:.4f}'} nats per music token (first window of each valid piece, untransposed) |
| run | `{run_dir.name}`, seed {t.get('seed')}, git `{t.get('git_commit')}`, {run.get('world_size', 1)} process(es); at step {last.get('step', '?')}: train loss {last.get('train_loss', '?')}, {float(last.get('elapsed_s') or 0) / 60:.0f} min wall time |

Reproduce: `{cfg_name}`
(after `python pipelines/prepare_corpus.py --corpus music21{" --sources " + " ".join(data["sources"]) if data.get("sources") else ""}`), then
`python pipelines/train.py --export RUN_DIR{export}`.
Train on Lakh or MAESTRO: convert them with `pipelines/prepare_corpus.py --corpus lakh|maestro --path DIR`
and set `data.corpus_dir` to the converted folder (`--set data.corpus_dir=...`).

Limitations: trained on {style}; expect that style. Meter, tempo band and instrument families are enforced at sampling time
by the token grammar; key, density, register and polyphony are learned conditions.
"""

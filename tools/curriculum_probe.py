"""Diagnostic, not product code: train the demo VLM in ONE process (no Ray) with the prefix curriculum and
print, every N steps, how often the token that opens the defect list (`]` vs `{"`) is right on 160 held-back
rows, next to the same rows with their images swapped (d1 vs swap: does the model look?), the second
decision (1 vs 2 defects, d2) and the answer's loss; then scores 100 hold-out faces through VlmPredictor.

Needs the demo's data and base model (`python -m fibervlm.train.demo` builds them in /tmp/fibervlm-demo).
The README's in-process numbers came from:
    python tools/curriculum_probe.py --threads 1 --steps 700 --prefix-steps 300 --vision-after 0
"""
import argparse, json, time, shutil
from pathlib import Path
import torch
from fibervlm.config import load_config
from fibervlm.train.demo import DemoConfig, train_config
from fibervlm.train.data import ExampleEncoder, read_rows, load_image, Collator, answer_prefix, answer_text
from fibervlm.train.model import load_for_training, stop_token_id, VISION_PATTERN
from fibervlm.train.strategy import warmup_cosine
from fibervlm.tasks import get_task
from fibervlm.vlm.presets import load_preset, PRESET_FILE

p = argparse.ArgumentParser()
p.add_argument("--steps", type=int, default=600)
p.add_argument("--prefix-steps", type=int, default=300)
p.add_argument("--prefix-tokens", type=int, default=4)
p.add_argument("--lr", type=float, default=0.003)
p.add_argument("--vision-scale", type=float, default=3.0)
p.add_argument("--vision-after", type=float, default=1.0, help="vision lr multiplier after prefix phase")
p.add_argument("--lr-after", type=float, default=1.0, help="lr multiplier after prefix phase")
p.add_argument("--prefix-weight", type=float, default=0.0, help="extra loss weight on prefix tokens after")
p.add_argument("--bs", type=int, default=16)
p.add_argument("--warmup", type=int, default=30)
p.add_argument("--every", type=int, default=50)
p.add_argument("--gen", type=int, default=100)
p.add_argument("--out", default="/tmp/diag/model")
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()
torch.set_num_threads(a.threads); torch.manual_seed(0)
c = load_config(DemoConfig, "configs/train/tiny-demo.yaml", [])
from fibervlm.schemas import stable_hash
work = Path(c.work_dir)
base = work / f"base-{stable_hash(c.model.model_dump())}"
data = sorted(work.glob("data-*"))[0]
cfg = train_config(c, base, data / "train.jsonl", data / "holdout-faces")
preset = load_preset(cfg.model); task = get_task("endface")
loaded = load_for_training(preset, cfg, "cpu")
model, proc, tok = loaded.model, loaded.processor, loaded.tokenizer
enc = ExampleEncoder(processor=proc, prompt=task.prompt, output_model=task.output_model, family=preset.family,
                     stop_token_id=stop_token_id(model.generation_config, tok))
rows = read_rows(str(data / "train.jsonl"))
train_rows, eval_rows = rows[:-160], rows[-160:]
t0 = time.time()
imgs = [load_image(r.images[0]) for r in rows]
train_enc = [enc(r, [imgs[i]]).tensors for i, r in enumerate(train_rows)]
n = len(train_rows)
eval_enc = [enc(r, [imgs[n + i]]).tensors for i, r in enumerate(eval_rows)]
swap_enc = [enc(r, [imgs[n + (i + 1) % 160]]).tensors for i, r in enumerate(eval_rows)]
print(f"encoded in {time.time()-t0:.0f}s", flush=True)

def first_diff(x, y):
    for i, (u, v) in enumerate(zip(x, y)):
        if u != v: return i
    return min(len(x), len(y))

def ids(obj):
    return tok(json.dumps(obj, separators=(",", ":"), ensure_ascii=False), add_special_tokens=False)["input_ids"]
# decision positions within each eval answer
dec = []
for r in eval_rows:
    t = json.loads(r.target); own = tok(answer_text(r.target, task.output_model), add_special_tokens=False)["input_ids"]
    d = {"n": len(t["defects"])}
    zero = tok(answer_text(json.dumps({**t, "defects": []}), task.output_model), add_special_tokens=False)["input_ids"]
    d["p1"] = first_diff(own, zero) if t["defects"] else None
    if t["defects"]:
        one = dict(t, defects=t["defects"][:1]); two = dict(t, defects=[t["defects"][0]] * 2)
        o = tok(answer_text(json.dumps(one), task.output_model), add_special_tokens=False)["input_ids"]
        w = tok(answer_text(json.dumps(two), task.output_model), add_special_tokens=False)["input_ids"]
        d["p2"] = first_diff(o, w)
    dec.append(d)
# p1 for zero rows: same position as others (prefix length)
p1s = [d["p1"] for d in dec if d["p1"] is not None]
P1 = max(set(p1s), key=p1s.count)
print("decision position", P1, "p2 positions", sorted(set(d.get("p2") for d in dec if d.get("p2"))), flush=True)

collate = Collator(pad_token_id=tok.pad_token_id)
vision = [q for nm, q in model.named_parameters() if q.requires_grad and VISION_PATTERN.search(nm)]
rest = [q for nm, q in model.named_parameters() if q.requires_grad and not VISION_PATTERN.search(nm)]
opt = torch.optim.AdamW([{"params": rest, "lr": a.lr}, {"params": vision, "lr": a.lr * a.vision_scale}], lr=a.lr, weight_decay=0.0)
base_f = warmup_cosine(warmup_steps=a.warmup, total_steps=a.steps, min_lr_ratio=0.05)
def f_rest(s): return base_f(s) * (a.lr_after if s >= a.prefix_steps else 1.0)
def f_vis(s): return base_f(s) * ((a.lr_after * a.vision_after) if s >= a.prefix_steps else 1.0)
sched = torch.optim.lr_scheduler.LambdaLR(opt, [f_rest, f_vis])

def answer_logp(encs):
    """per-row: answer NLL, d1 correct, d2 correct"""
    model.eval(); out = []
    with torch.no_grad():
        for s in range(0, len(encs), 32):
            b = collate(encs[s:s+32])
            logits = model(**{k: v for k, v in b.items() if k != "labels"}).logits
            lab = b["labels"]
            lp = torch.log_softmax(logits[:, :-1].float(), -1); tgt = lab[:, 1:]
            m = tgt != -100
            tl = lp.gather(-1, tgt.clamp(min=0).unsqueeze(-1)).squeeze(-1)
            pred = lp.argmax(-1)
            for i in range(lab.shape[0]):
                pos = m[i].nonzero().squeeze(-1)
                d = dec[s + i]
                r = {"nll": float(-(tl[i][pos]).mean())}
                j = pos[P1]; r["d1"] = bool(pred[i, j] == tgt[i, j])
                if d.get("p2") is not None:
                    j = pos[d["p2"]]; r["d2"] = bool(pred[i, j] == tgt[i, j])
                out.append(r)
    model.train(); return out

def report(step):
    r, w = answer_logp(eval_enc), answer_logp(swap_enc)
    d1 = sum(x["d1"] for x in r) / len(r); d1s = sum(x["d1"] for x in w) / len(w)
    d2l = [x["d2"] for x in r if "d2" in x]; d2 = sum(d2l) / len(d2l)
    nll = sum(x["nll"] for x in r) / len(r); nlls = sum(x["nll"] for x in w) / len(w)
    print(f"step {step} lr {sched.get_last_lr()[0]:.5f} d1 {d1:.2f} (swap {d1s:.2f}) d2 {d2:.2f} nll {nll:.3f} swap {nlls:.3f} t {time.time()-t0:.0f}", flush=True)

g = torch.Generator().manual_seed(0)
step = 0; t0 = time.time(); losses = []
order = torch.randperm(len(train_enc), generator=g).tolist(); k = 0
while step < a.steps:
    if k + a.bs > len(order):
        order = torch.randperm(len(train_enc), generator=g).tolist(); k = 0
    b = collate([train_enc[i] for i in order[k:k+a.bs]]); k += a.bs
    full = b["labels"]
    if step < a.prefix_steps:
        b["labels"] = answer_prefix(full, a.prefix_tokens)
        loss = model(**b).loss
    else:
        out = model(**{kk: v for kk, v in b.items() if kk != "labels"})
        lp = torch.nn.functional.cross_entropy(out.logits[:, :-1].transpose(1, 2).float(), full[:, 1:], ignore_index=-100, reduction="none")
        m = (full[:, 1:] != -100).float()
        loss = (lp * m).sum() / m.sum()
        if a.prefix_weight:
            pm = (answer_prefix(full, a.prefix_tokens)[:, 1:] != -100).float()
            loss = loss + a.prefix_weight * (lp * pm).sum() / pm.sum()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(rest + vision, 1.0)
    opt.step(); sched.step(); opt.zero_grad(set_to_none=True)
    losses.append(float(loss)); step += 1
    if step % a.every == 0:
        print(f"  loss {sum(losses)/len(losses):.3f}", end=" "); losses = []
        report(step)
out = Path(a.out); shutil.rmtree(out, ignore_errors=True)
model.save_pretrained(out); proc.save_pretrained(out); shutil.copy(base / PRESET_FILE, out / PRESET_FILE)
if a.gen:
    from fibervlm.train.holdout import evaluate_holdout, majority_baseline
    m = evaluate_holdout(model=str(out), adapter=None, holdout=str(data / "holdout-faces"), limit=a.gen, batch_size=16, baseline=majority_baseline(train_rows))
    print(json.dumps(m), flush=True)
print(f"total {time.time()-t0:.0f}s")

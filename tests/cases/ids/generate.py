"""Writes hashlib.jsonl: the stable ids of generated texts as Python's hashlib computes
them, the reference for semc's `stable_id`, `stable_id_parts`, `stable_hash64` and
`blake2b` (the tests read this file; they need no Python).

    python tests/cases/ids/generate.py
"""

import hashlib
import json
import pathlib
import random

SEP, NULL = "\x1f", "__NULL__"


def stable_id(prefix, value):
    return f"{prefix}:{hashlib.blake2b(value.encode(), digest_size=16).hexdigest()}"


def main():
    rng = random.Random(20261202)
    alphabet = "abcXYZ019 _-/.:\x1f\n\té名前😀ß"
    texts = ["", "abc", "a" * 1000, "src/pkg/mod.py:10:20", "名前", "😀", "\x1f", NULL]
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40))) for _ in range(60)]
    out = pathlib.Path(__file__).with_name("hashlib.jsonl")
    with out.open("w", encoding="utf-8") as f:
        for i, text in enumerate(texts):
            other = None if i % 5 == 0 else texts[(i * 7) % len(texts)]
            parts = [text, other]
            row = {
                "value": text,
                "other": other,
                "stable_id": stable_id("def", text),
                "stable_id_parts": stable_id("ref", SEP.join(NULL if p is None else p for p in parts)),
                "stable_hash64": int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") & ((1 << 63) - 1),
                "blake2b_1": hashlib.blake2b(text.encode(), digest_size=1).hexdigest(),
                "blake2b_20": hashlib.blake2b(text.encode(), digest_size=20).hexdigest(),
                "blake2b_64": hashlib.blake2b(text.encode(), digest_size=64).hexdigest(),
            }
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

"""Evasions of the fundraising vocabulary: homophones, variant glyphs, pinyin and pinyin initials.

The data is ``classifier/data/evasion.yml`` (maintained by hand: the words, the initials, variant glyphs and
separator characters) and ``classifier/data/homophones.json``, generated from it with pypinyin's readings
and jieba's dictionary by ``main()`` (``python -c "from classifier.vocabulary import main; main()"``; both are
development dependencies, so classifying needs neither). ``classifier.normalize`` applies three steps made here:

- ``sound_alike``: a run that sounds like a word of the vocabulary (the same pinyin, tones ignored), holds at
  least one of its characters and is not itself a common word (jieba's dictionary, or ``keep``) is read as
  the word: 宝本 -> 保本, 收溢 -> 收益, 利细 -> 利息, 保夲 -> 保本, 里财 -> 理财. A character among the 50 most
  frequent of Chinese text never stands for another (收一 stays);
- ``pinyin_words``: a word written in pinyin, syllables joined or spaced, is read as the word (baoben, shou yi);
- ``initials``: pinyin initials of a rate word before a rate (nh 12% -> 年化12%).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from classifier.prefilter import _COMMON

__all__ = ["DATA_DIR", "Vocabulary", "build_homophones", "vocabulary"]

DATA_DIR = Path(__file__).parent / "data"
STOP_RANK = 50  # characters this frequent never stand for another (classifier.prefilter's list)


@dataclass(frozen=True)
class Vocabulary:
    words: tuple[str, ...]
    initials: dict[str, str]
    variants: dict[str, str]
    separators: frozenset[str]
    sounds: dict[str, frozenset[str]]  # toneless syllable -> characters read so (stop characters left out)
    word_sounds: dict[str, tuple[str, ...]]  # word -> its syllables
    keep: frozenset[str]  # runs never rewritten (common words that sound like a vocabulary word)

    @functools.cached_property
    def sound_alikes(self) -> dict[str, str]:
        """Every run that stands for a word: one character of the word replaced by a character read like it,
        or (two-character words) both; common words (``keep``) left out."""
        out: dict[str, str] = {}
        for word in self.words:
            classes = [
                self.sounds.get(s, frozenset()) | {ch} for s, ch in zip(self.word_sounds[word], word, strict=True)
            ]
            for j in range(len(word)):
                for ch in classes[j]:
                    run = word[:j] + ch + word[j + 1 :]
                    if run != word and run not in self.keep:
                        out.setdefault(run, word)
        return out

    @functools.cached_property
    def anchor_re(self) -> re.Pattern[str]:
        """A character of a word of the vocabulary (every run above holds one)."""
        return re.compile("[" + "".join(sorted(set("".join(self.words)))) + "]")

    @functools.cached_property
    def neighbours(self) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
        """For each character of a run above: the characters that may follow it, and precede it, in one."""
        after: dict[str, set[str]] = {}
        before: dict[str, set[str]] = {}
        for run in self.sound_alikes:
            for x, y in zip(run, run[1:], strict=False):
                after.setdefault(x, set()).add(y)
                before.setdefault(y, set()).add(x)
        return (
            {k: frozenset(v) for k, v in after.items()},
            {k: frozenset(v) for k, v in before.items()},
        )

    @functools.cached_property
    def _reach(self) -> tuple[int, int]:
        lengths = [len(w) for w in self.words]
        return min(lengths), max(lengths)

    def sound_alike(self, m: re.Match[str]) -> tuple[int, int, str] | None:
        """The rewrite (start, end, word) of a run holding the anchor ``m``, if the run stands for a word."""
        text, i = m.string, m.start()
        table = self.sound_alikes
        shortest, longest = self._reach
        for n in range(longest, shortest - 1, -1):
            for a in range(max(0, i - n + 1), i + 1):
                word = table.get(text[a : a + n])
                if word is not None:
                    return a, a + n, word
        return None

    @functools.cached_property
    def pinyin_re(self) -> re.Pattern[str]:
        gap = r"[\s\ue000\ue001·\-_]?"  # a space, or what normalisation's first step made of a separator
        alternatives = sorted({gap.join(self.word_sounds[w]) for w in self.words}, key=lambda s: (-len(s), s))
        return re.compile(rf"(?<![a-z0-9_.@])(?:{'|'.join(alternatives)})(?![a-z0-9_@])")

    @functools.cached_property
    def pinyin_words(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for w in self.words:
            out.setdefault("".join(self.word_sounds[w]), w)
        return out

    @functools.cached_property
    def initials_re(self) -> re.Pattern[str]:
        keys = "|".join(sorted(self.initials, key=lambda s: (-len(s), s)))
        rate = r"\s?[:：]?\s?\d+(?:\.\d+)?\s?(?:%|‰|[分厘](?![钟])|个点)"
        return re.compile(rf"(?<![a-z])(?:{keys})(?=(?:{rate}))")


def _load_yaml() -> dict:
    with open(DATA_DIR / "evasion.yml", encoding="utf-8") as f:
        return yaml.safe_load(f)


@functools.lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    spec = _load_yaml()
    with open(DATA_DIR / "homophones.json", encoding="utf-8") as f:
        gen = json.load(f)
    # a word added to evasion.yml but not yet to homophones.json is not looked for until it is regenerated
    # (tests/test_evasion.py checks that the committed file is up to date)
    words = tuple(w for w in spec["words"] if w in gen["word_sounds"])
    return Vocabulary(
        words=words,
        initials=dict(spec["initials"]),
        variants=dict(spec["variants"]),
        separators=frozenset(spec["separators"]),
        sounds={s: frozenset(chars) for s, chars in gen["sounds"].items()},
        word_sounds={w: tuple(gen["word_sounds"][w]) for w in words},
        keep=frozenset(gen["keep"]) | frozenset(spec.get("keep") or ()),
    )


def jp_variants() -> dict[str, str]:
    """OpenCC's Japanese shinjitai table, reversed: 収 -> 收 (traditional; the simplified table follows)."""
    import opencc

    path = Path(opencc.__file__).parent / "dictionary" / "JPVariants.txt"
    out: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 2 and len(parts[0]) == 1:
                for jp in parts[1].split(" "):
                    if len(jp) == 1 and jp != parts[0]:
                        out.setdefault(jp, parts[0])
    return out


# --- generating homophones.json (development dependencies: pypinyin, jieba) ---------------------------------
def _toneless(reading: str) -> str:
    from pypinyin.contrib.tone_convert import to_normal

    return to_normal(reading).replace("ü", "v")


def build_homophones() -> dict:
    """The generated part of the vocabulary, from pypinyin's readings and jieba's dictionary."""
    from pypinyin import lazy_pinyin
    from pypinyin.pinyin_dict import pinyin_dict

    spec = _load_yaml()
    words = list(spec["words"])
    stop = set(_COMMON[:STOP_RANK]) - set("".join(words))
    word_sounds = {w: [s.replace("ü", "v") for s in lazy_pinyin(w)] for w in words}
    wanted = {s for ss in word_sounds.values() for s in ss}
    sounds: dict[str, set[str]] = {s: set() for s in wanted}
    for cp, readings in pinyin_dict.items():
        ch = chr(cp)
        if not ("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff") or ch in stop:
            continue
        for r in readings.split(","):
            s = _toneless(r)
            if s in sounds:
                sounds[s].add(ch)
    keep = sorted(_common_sound_alikes(words, word_sounds, sounds))
    return {
        "generated_by": "classifier.vocabulary.main() (pypinyin readings, jieba dictionary)",
        "word_sounds": word_sounds,
        "sounds": {s: "".join(sorted(chars)) for s, chars in sorted(sounds.items())},
        "keep": keep,
    }


def _common_sound_alikes(words: list[str], word_sounds: dict, sounds: dict) -> set[str]:
    """Dictionary words (jieba, frequency at least 3) that sound like a vocabulary word and share a character."""
    import jieba

    dictionary: dict[str, int] = {}
    with open(Path(jieba.__file__).parent / "dict.txt", encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) >= 3:
                dictionary[parts[0]] = int(parts[1])
    keep: set[str] = set()
    for w in words:
        for entry in dictionary:
            if len(entry) != len(w) or entry == w or not any(a == b for a, b in zip(entry, w, strict=True)):
                continue
            if all(a == b or a in sounds[s] for a, b, s in zip(entry, w, word_sounds[w], strict=True)):
                keep.add(entry)
    return keep


def main() -> None:
    data = build_homophones()
    path = DATA_DIR / "homophones.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(
        f"{path}: {len(data['sounds'])} syllables, {sum(len(c) for c in data['sounds'].values())} characters, "
        f"{len(data['keep'])} common words kept"
    )


if __name__ == "__main__":
    main()

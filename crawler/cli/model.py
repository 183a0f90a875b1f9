"""``trawler train``, ``trawler evaluate`` and ``trawler classify``: the classifier's commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from crawler.cli import TrawlerError, _remember, cli, get_config, global_options


def corpus_command_options(func):  # type: ignore[no-untyped-def]
    """``--db`` as on every command. ``--data`` names corpus files here (DESIGN.md), so on these
    commands the data directory is given before the command: ``trawler --data DIR train ...``."""
    return click.option(
        "--db", "db", metavar="URL", expose_value=False, callback=_remember,
        help="SQLAlchemy database URL (env TRAWLER_DB; not used by this command).",
    )(func)


def _load(path: str | None):  # type: ignore[no-untyped-def]
    from classifiers.artifact import ModelError, load_model

    try:
        return load_model(path or get_config().model_path)
    except ModelError as exc:
        raise TrawlerError(str(exc)) from exc


def _families(value: tuple[str, ...]) -> list[str]:
    from classifiers.evaluate import all_families

    known = all_families()
    chosen = known if "all" in value else list(dict.fromkeys(value))
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise TrawlerError(f"unknown substance family {', '.join(unknown)}; "
                           f"choose from: all, {', '.join(known)}")
    return chosen


@cli.command()
@click.option("--data", "data_files", multiple=True, required=True, metavar="FILE.jsonl",
              help="Labelled corpus file(s) to train on (repeat the option for more).")
@click.option("--dev", "dev_files", multiple=True, metavar="FILE.jsonl",
              help="Dev file(s): the threshold is chosen here and the card reports on them.")
@click.option("--out", default=None, metavar="DIR",
              help="Model directory to write (default: the configured model, models/trawler).")
@click.option("--leave-out", "leave_out", multiple=True, metavar="FAMILY",
              help="Also report leave-one-family-out recall for FAMILY (or 'all') in the card.")
@click.option("--leave-out-source", "leave_out_sources", multiple=True, metavar="SOURCE",
              help="Also report how a model trained without SOURCE scores its documents "
                   "('a+b': two together; 'all': each training source in turn).")
@click.option("--no-authored", is_flag=True,
              help="Train without classifiers/data/authored.jsonl.")
@corpus_command_options
def train(data_files: tuple[str, ...], dev_files: tuple[str, ...], out: str | None,
          leave_out: tuple[str, ...], leave_out_sources: tuple[str, ...],
          no_authored: bool) -> None:
    """Train the page classifier and write it with its model card."""
    from classifiers.corpus import CorpusError
    from classifiers.train import train as run_training

    target = Path(out) if out else get_config().model_path
    try:
        families = _families(leave_out) if leave_out else []
        card = run_training(list(data_files), target, dev=list(dev_files), leave_out=families,
                            leave_out_sources=leave_out_sources, authored=not no_authored,
                            progress=lambda msg: click.echo(msg, err=True))
    except (CorpusError, ValueError) as exc:
        raise TrawlerError(str(exc)) from exc
    line = f"wrote {target} ({card['model']}, threshold {card['threshold']:.3f}"
    if "dev" in card:
        dev = card["dev"]
        line += f"; dev precision {dev['precision']}, recall {dev['recall']}"
    click.echo(line + ")")


@cli.command()
@click.option("--data", "data_files", multiple=True, required=True, metavar="FILE.jsonl",
              help="Labelled corpus file(s) to evaluate on.")
@click.option("--model", "model_path", default=None, metavar="PATH",
              help="Model directory (default: the configured model).")
@click.option("--leave-out", "leave_out", multiple=True, metavar="FAMILY",
              help="Retrain without FAMILY (or 'all') and report recall on its listings in "
                   "--data; training data: --train, else the files named in the model card.")
@click.option("--leave-out-source", "leave_out_sources", multiple=True, metavar="SOURCE",
              help="Retrain without a training SOURCE ('a+b': two together; 'all': each in "
                   "turn) and report how its documents, in --data and in training, score.")
@click.option("--train", "train_files", multiple=True, metavar="FILE.jsonl",
              help="Training file(s) for --leave-out and --leave-out-source.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@corpus_command_options
def evaluate(data_files: tuple[str, ...], model_path: str | None, leave_out: tuple[str, ...],
             leave_out_sources: tuple[str, ...], train_files: tuple[str, ...],
             as_json: bool) -> None:
    """Evaluate the classifier on labelled data (gray documents are counted, not scored)."""
    from classifiers.corpus import AUTHORED_FILE, CorpusError, read_corpus
    from classifiers.evaluate import evaluate as run_evaluation
    from classifiers.evaluate import leave_outs, source_groups

    try:
        examples = read_corpus(data_files)
        if leave_out or leave_out_sources:
            families = _families(leave_out) if leave_out else []
            if not train_files:
                card = _load(model_path).card
                train_files = tuple(f["path"] for f in card.get("data", {}).get("train_files", []))
                if not train_files:
                    raise TrawlerError("--leave-out and --leave-out-source need --train "
                                       "FILE.jsonl (the model card names no training files)")
            training = read_corpus([*train_files, AUTHORED_FILE])
            groups = source_groups(leave_out_sources, training)  # fails before any training
            result: dict = {}
            for key, row in leave_outs(families, groups, training, examples):
                result.setdefault(key, []).append(row)
        else:
            result = run_evaluation(_load(model_path), examples)
    except (CorpusError, ValueError) as exc:
        raise TrawlerError(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
        return
    if leave_out or leave_out_sources:
        for r in result.get("leave_one_family_out", []):
            click.echo(f"{r['family']:<24} recall {_fmt(r['recall'])} on {r['listings']} listings "
                       f"(dev {_fmt(r['dev_recall'])} on {r['dev_listings']})")
        for r in result.get("leave_one_source_out", []):
            click.echo(f"{r['source']:<24} recall {_fmt(r['recall'])}  FPR "
                       f"{_fmt(r['false_positive_rate'])} on {r['documents']} documents "
                       f"({r['dev_documents']} in --data)")
        return
    click.echo(f"model {result['model']}  threshold {result['threshold']:.3f}  n {result['n']}  "
               f"precision {result['precision']}  recall {result['recall']}  f1 {result['f1']}"
               f"  gray {result['gray']}")
    for key in ("by_source", "by_lang"):
        click.echo(f"{key.replace('_', ' ')}:")
        for name, r in result[key].items():
            click.echo(f"  {name:<24} n {r['n']:>5}  positives {r['positives']:>5}  "
                       f"recall {_fmt(r['recall'])}  FPR {_fmt(r['false_positive_rate'])}")


def _fmt(value: float | None) -> str:
    return "  –  " if value is None else f"{value:.3f}"


@cli.command()
@click.argument("source", default="-", metavar="[FILE|-]")
@click.option("--url", default=None, help="The page's URL (also used to resolve its links).")
@click.option("--model", "model_path", default=None, metavar="PATH",
              help="Model directory (default: the configured model).")
@click.option("--json", "as_json", is_flag=True, help="Print the verdict as JSON.")
@global_options
def classify(source: str, url: str | None, model_path: str | None, as_json: bool) -> None:
    """Classify one page (HTML or text, from FILE or stdin) and show the verdict with reasons."""
    from classifiers import Document
    from crawler.extract import extract_page

    if source == "-":
        body = sys.stdin.buffer.read()
    else:
        try:
            body = Path(source).read_bytes()
        except OSError as exc:
            raise TrawlerError(f"cannot read {source}: {exc.strerror or exc}") from exc
    page = extract_page(body, url or "http://localhost/")
    verdict = _load(model_path).classify(
        [Document(text=page.text, title=page.title, url=url, lang=page.lang)])[0]
    if as_json:
        click.echo(json.dumps(verdict.to_dict(), ensure_ascii=False))
        return
    click.echo(f"{verdict.label}  score {verdict.score:.3f}  threshold {verdict.threshold:.3f}  "
               f"model {verdict.model_version}")
    for r in verdict.reasons:
        term = f"  {r['term']}" if r["term"] else ""
        click.echo(f"  {r['weight']:+.3f}  {r['feature']}{term}")

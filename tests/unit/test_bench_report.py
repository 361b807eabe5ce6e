"""bench/report.py: each benchmark rewrites its own marked section of docs/performance.md."""

import importlib.util
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location(
    "bench_report", Path(__file__).resolve().parents[2] / "bench" / "report.py")
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)


def test_a_missing_file_is_created_with_the_section(tmp_path):
    path = tmp_path / "performance.md"
    report.replace_section(path, "cpu", "| a | b |\n")
    assert path.read_text() == "<!-- bench:cpu -->\n| a | b |\n<!-- /bench:cpu -->\n"


def test_a_missing_section_is_appended_after_the_text(tmp_path):
    path = tmp_path / "performance.md"
    path.write_text("# Rendimiento\n\nIntro.\n")
    report.replace_section(path, "overload", "Figures.")
    assert path.read_text() == ("# Rendimiento\n\nIntro.\n\n<!-- bench:overload -->\n"
                                "Figures.\n<!-- /bench:overload -->\n")


def test_only_the_named_section_changes(tmp_path):
    path = tmp_path / "performance.md"
    path.write_text("Intro.\n\n<!-- bench:cpu -->\nold cpu\n<!-- /bench:cpu -->\n\n"
                    "Between.\n\n<!-- bench:journey -->\njourney\n<!-- /bench:journey -->\n"
                    "Tail.\n")
    report.replace_section(path, "cpu", "new cpu\nsecond line\n")
    assert path.read_text() == (
        "Intro.\n\n<!-- bench:cpu -->\nnew cpu\nsecond line\n<!-- /bench:cpu -->\n\n"
        "Between.\n\n<!-- bench:journey -->\njourney\n<!-- /bench:journey -->\nTail.\n")


def test_replacing_twice_keeps_one_section(tmp_path):
    path = tmp_path / "performance.md"
    report.replace_section(path, "cpu", "first")
    report.replace_section(path, "cpu", "second")
    text = path.read_text()
    assert text.count("<!-- bench:cpu -->") == 1
    assert "first" not in text and "second" in text


def test_a_name_that_prefixes_another_does_not_match_it(tmp_path):
    path = tmp_path / "performance.md"
    path.write_text("<!-- bench:slow-clients -->\nslow\n<!-- /bench:slow-clients -->\n")
    report.replace_section(path, "slow", "other")
    text = path.read_text()
    assert "<!-- bench:slow-clients -->\nslow\n" in text
    assert "<!-- bench:slow -->\nother\n<!-- /bench:slow -->" in text


def test_backslashes_and_group_references_are_kept_verbatim(tmp_path):
    path = tmp_path / "performance.md"
    report.replace_section(path, "cpu", "x")
    report.replace_section(path, "cpu", r"C:\tmp \1 \g<0>")
    assert r"C:\tmp \1 \g<0>" in path.read_text()


@pytest.mark.parametrize("text", ["<!-- bench:cpu -->\nx\n", "<!-- /bench:cpu -->\n"])
def test_a_broken_section_is_refused_and_the_file_left_alone(tmp_path, text):
    path = tmp_path / "performance.md"
    path.write_text(text)
    with pytest.raises(ValueError):
        report.replace_section(path, "cpu", "new")
    assert path.read_text() == text


def test_markdown_holding_the_markers_is_refused(tmp_path):
    with pytest.raises(ValueError):
        report.replace_section(tmp_path / "p.md", "cpu", "a <!-- /bench:cpu --> b")


@pytest.mark.parametrize("name", ["", "two words", "a-->", "UPPER"])
def test_names_are_lowercase_words_and_hyphens(tmp_path, name):
    with pytest.raises(ValueError):
        report.replace_section(tmp_path / "p.md", name, "x")

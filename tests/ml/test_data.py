"""Reading, merging and checking labelled data sets."""

from pathlib import Path

import pytest

from ml.data import Dataset, DatasetError, read_csv, read_csv_records

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample_tweets.csv"
HEADER = "id,keyword,location,text,target\n"


def write(tmp_path: Path, content: str | bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_sample_data_set_reads_with_both_classes():
    data = read_csv(SAMPLE)

    assert 180 <= len(data) <= 240
    assert 0.35 <= sum(data.target) / len(data) <= 0.55
    assert "" in data.keyword and "" in data.location
    assert any("%20" in keyword for keyword in data.keyword)
    data.require_trainable()


def test_read_csv_ignores_id_and_extra_columns_and_keeps_column_values(tmp_path):
    path = write(
        tmp_path,
        "extra,target,text,location,keyword,id\n"
        'x,1,"  Flood in town, roads closed ",Leeds,flash%20flood,7\n'
        "y,0,Nice day,,,8\n",
    )

    data = read_csv(path)

    assert data == Dataset(
        text=("Flood in town, roads closed", "Nice day"),
        keyword=("flash%20flood", ""),
        location=("Leeds", ""),
        target=(1, 0),
    )


def test_read_csv_accepts_a_byte_order_mark_and_multi_line_text(tmp_path):
    path = write(tmp_path, "\ufeff" + HEADER + '1,,,"two\nlines",1\n2,,,one line,0\n')

    assert read_csv(path).text == ("two\nlines", "one line")


def test_read_csv_records_keeps_the_line_each_record_starts_on_and_its_id(tmp_path):
    path = write(
        tmp_path,
        HEADER + '10,,,"three\nphysical\r\nlines",1\n11,,,next,0\n,,,"two\nlines",1\n13,,,last,0\n',
    )

    records = read_csv_records(path)

    assert records.data.text == ("three\nphysical\r\nlines", "next", "two\nlines", "last")
    assert records.lines == (2, 5, 6, 8)
    assert records.ids == ("10", "11", "", "13")
    assert path.read_text().splitlines()[records.lines[3] - 1].startswith("13,")


def test_read_csv_records_without_an_id_column_gives_empty_ids(tmp_path):
    path = write(tmp_path, "text,target,keyword,location\none,1,,\ntwo,0,,\n")

    assert read_csv_records(path).ids == ("", "")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00i\x00d", "is not UTF-8 text"),
        ("id\x00,keyword\n", "is not UTF-8 text (it contains NUL bytes)"),
        (HEADER + '1,,,"unterminated,1\n', "is not valid CSV"),
        ("", "is empty"),
        ("id,text,location\n1,hello,\n", "is missing column(s): keyword, target"),
        (HEADER, "has no data rows"),
        (HEADER + "1,,,fine,0\n2,,,bad,2\n", "line 3: target must be 0 or 1, got '2'"),
        (HEADER + "1,,,fine,0\n2,,,no target,\n", "line 3: target must be 0 or 1, got ''"),
        (HEADER + '1,,,"multi\nline",0\n2,,,bad,yes\n', "line 4: target must be 0 or 1"),
        (HEADER + "1,,,fine,0\n2,fire,,   ,1\n", "line 3: empty text"),
    ],
)
def test_read_csv_rejects_bad_input_with_a_one_line_reason(tmp_path, content, message):
    path = write(tmp_path, content)

    with pytest.raises(DatasetError) as raised:
        read_csv(path)

    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_read_csv_names_a_missing_file(tmp_path):
    missing = tmp_path / "nope.csv"

    with pytest.raises(DatasetError) as raised:
        read_csv(missing)

    assert str(raised.value) == f"no such file: {missing}"


def test_read_csv_rejects_a_directory(tmp_path):
    with pytest.raises(DatasetError, match="not a file"):
        read_csv(tmp_path)


def test_from_rows_fills_missing_keyword_and_location_with_empty_strings():
    data = Dataset.from_rows([("Quake!", None, None, "1"), ("Cake", "", "Paris", 0)])

    assert data.keyword == ("", "")
    assert data.location == ("", "Paris")
    assert data.target == (1, 0)
    assert len(data) == 2
    assert len(Dataset.from_rows([])) == 0


def test_columns_of_different_lengths_are_refused():
    with pytest.raises(DatasetError, match="different lengths"):
        Dataset(text=("a",), keyword=(), location=("",), target=(1,))


def test_targets_other_than_0_and_1_are_refused():
    with pytest.raises(DatasetError, match=r"targets must be 0 or 1, found \[2\]"):
        Dataset.from_rows([("a", "", "", 1), ("b", "", "", 2)])


def test_merged_with_lets_feedback_win_by_stripped_text_and_last_feedback_win():
    base = Dataset.from_rows(
        [
            ("Fire downtown", "fire", "", 0),
            ("Nice day", "", "", 0),
            ("dup", "", "", 1),
            ("dup", "", "", 0),
        ]
    )
    feedback = Dataset.from_rows(
        [
            ("  Fire downtown ", "fire", "Leeds", 1),
            ("New one", "", "", 1),
            ("Fire downtown", "blaze", "York", 0),
        ]
    )

    merged = base.merged_with(feedback)

    assert merged.rows() == [
        ("Nice day", "", "", 0),
        ("dup", "", "", 1),
        ("dup", "", "", 0),
        ("Fire downtown", "blaze", "York", 0),
        ("New one", "", "", 1),
    ]
    assert base.merged_with(Dataset.from_rows([])) == base
    assert len(Dataset.from_rows([]).merged_with(feedback)) == 2


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ([], "data set is empty"),
        ([1, 1, 1], "needs both classes: found only target=1"),
        ([0, 0], "needs both classes: found only target=0"),
        ([0, 0, 0, 1], "needs at least 2 rows of each class: found 1 with target=1"),
    ],
)
def test_require_trainable_explains_what_is_missing(targets, message):
    data = Dataset.from_rows((f"tweet {i}", "", "", t) for i, t in enumerate(targets))

    with pytest.raises(DatasetError, match=f"^{message}$"):
        data.require_trainable()


def test_require_trainable_accepts_two_of_each_class():
    Dataset.from_rows((f"tweet {i}", "", "", i % 2) for i in range(4)).require_trainable()


def test_subset_keeps_the_order_asked_for():
    data = Dataset.from_rows([("a", "", "", 0), ("b", "k", "", 1), ("c", "", "l", 0)])
    assert data.subset([2, 0]).rows() == [("c", "", "l", 0), ("a", "", "", 0)]


def test_digest_names_the_content_whatever_the_order():
    rows = [("a", "", "", 0), ("b", "k", "", 1), ("c", "", "l", 0)]
    digest = Dataset.from_rows(rows).digest()
    assert len(digest) == 64
    assert Dataset.from_rows(reversed(rows)).digest() == digest
    assert Dataset.from_rows([*rows[:2], ("c", "", "l", 1)]).digest() != digest
    assert Dataset.from_rows(rows[:2]).digest() != digest
    # A field boundary is part of the content: ("ab", "") is not ("a", "b").
    assert (
        Dataset.from_rows([("ab", "", "", 0)]).digest()
        != Dataset.from_rows([("a", "b", "", 0)]).digest()
    )

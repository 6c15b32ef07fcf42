import pytest
from django.test import RequestFactory

from common.ranges import RangeNotSatisfiable, byte_range, file_response


@pytest.mark.parametrize("header, expected", [
    ("bytes=0-99", (0, 99)),
    ("bytes=100-", (100, 999)),
    ("bytes=-10", (990, 999)),
    ("bytes=-5000", (0, 999)),
    ("bytes=900-5000", (900, 999)),
    (None, None),
    ("bytes=0-1,5-6", None),  # several ranges: the whole file
    ("bytes=9-3", None),      # not a valid range: ignored
    ("items=0-9", None),
    ("bytes=-", None),
])
def test_it_reads_a_single_byte_range(header, expected):
    assert byte_range(header, 1000) == expected


@pytest.mark.parametrize("header, size", [("bytes=1000-", 1000), ("bytes=-0", 1000), ("bytes=-5", 0)])
def test_it_refuses_a_range_outside_the_file(header, size):
    with pytest.raises(RangeNotSatisfiable, match=rf"bytes \*/{size}"):
        byte_range(header, size)


@pytest.fixture
def movie(tmp_path):
    path = tmp_path / "video.mp4"
    path.write_bytes(bytes(range(256)) * 1024)  # 256 KiB: the slice spans several read chunks
    return path


def _body(response) -> bytes:
    body = b"".join(response.streaming_content)
    response.file_to_stream.close()  # not response.close(): its request_finished signal touches the database
    return body


def test_it_serves_the_whole_file_and_says_it_takes_ranges(movie):
    response = file_response(RequestFactory().get("/"), movie, "video/mp4")
    assert response.status_code == 200 and response["Accept-Ranges"] == "bytes"
    assert _body(response) == movie.read_bytes()


def test_it_serves_part_of_the_file_with_206(movie):
    request = RequestFactory().get("/", HTTP_RANGE="bytes=1000-200999")
    response = file_response(request, movie, "video/mp4")
    assert response.status_code == 206 and response["Content-Type"] == "video/mp4"
    assert response["Content-Range"] == f"bytes 1000-200999/{256 * 1024}"
    assert response["Content-Length"] == "200000"
    assert _body(response) == movie.read_bytes()[1000:201000]


def test_it_answers_416_for_a_range_past_the_end(movie):
    response = file_response(RequestFactory().get("/", HTTP_RANGE="bytes=999999-"), movie, "video/mp4")
    assert response.status_code == 416 and response["Content-Range"] == f"bytes */{256 * 1024}"

import json
import pytest
from factories import CatalogueItemFactory

pytestmark = pytest.mark.django_db


def test_probe(api):
    CatalogueItemFactory(id="301")
    out = []

    def p(kind, body, ct):
        r = api.client.generic(
            "POST", "/v2/user/favourites", body, content_type=ct, **api.headers()
        )
        out.append((kind, r.status_code, r.content[:300]))

    p("deepjson", b"[" * 15000 + b"]" * 15000, "application/json")
    p(
        "deepjson-obj",
        b'{"action":"add","id":' + b"[" * 5000 + b"]" * 5000 + b"}",
        "application/json",
    )
    p(
        "manyfields",
        b"action=add&" + b"&".join(b"x=1" for _ in range(1100)),
        "application/x-www-form-urlencoded",
    )
    p(
        "manyfields-mp",
        b"".join(
            b'--b\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n' for _ in range(1100)
        )
        + b"--b--\r\n",
        "multipart/form-data; boundary=b",
    )
    p("latin1", b"action=add&id=301&pad=\xe9", "application/x-www-form-urlencoded")
    p("jsonnull", b"null", "application/json")
    p("jsonnan", b'{"action":"add","id":NaN}', "application/json")
    p("jsonbad", b'{"action":"add",', "application/json")
    p("jsonbigint", b'{"action":"add","id":123456789012345678901234567890}', "application/json")
    p("jsonsurrogate", b'{"action":"add","id":"\\ud800"}', "application/json")
    p("json-nonutf8", b'{"action":"add","id":"\xff"}', "application/json")
    p(
        "mp-file",
        b'--b\r\nContent-Disposition: form-data; name="action"\r\n\r\nadd\r\n--b\r\nContent-Disposition: form-data; name="id"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n301\r\n--b--\r\n',
        "multipart/form-data; boundary=b",
    )
    p("utf16", "action=add&id=301".encode("utf-16"), "application/x-www-form-urlencoded")
    p("bom-json", b'\xef\xbb\xbf{"action":"add","id":"301"}', "application/json")
    with open("/tmp/probe/out.txt", "w") as f:
        for o in out:
            f.write(repr(o) + "\n")

import json
import pytest
from factories import CatalogueItemFactory
pytestmark = pytest.mark.django_db

def test_probe(api):
    CatalogueItemFactory(id="301")
    out = []
    for url in ["/v2/film/301", "/v2/film/30%001", "/v2/film/" + "9"*10000, "/v2/FILM/301", "/v2/film/301%27--", "/v2/film/%C3%A9", "/v2/film/%FF", "/v2/nope/301", "/v2/film/301/", "/v2/user/favourites/", "/v2/user/favourites/x", "/v2/user", "/v2/film"]:
        r = api.client.get(url)
        out.append(("item", url[:60], r.status_code, r.content[:300], r.get("Content-Type")))
    r = api.client.post("/v2/film/301", **api.headers())
    out.append(("itempost", "", r.status_code, r.content[:300], r.get("Allow")))
    r = api.client.get("/v2/user/favourites", HTTP_ACCEPT_LANGUAGE="de\x00;q=1", **api.headers())
    out.append(("al", "", r.status_code, r.content[:300], r.get("Content-Language")))
    r = api.client.post("/v2/user/favourites", "action=add&id=301", content_type="application/x-www-form-urlencoded", CONTENT_LENGTH="abc", **api.headers())
    out.append(("cl", "", r.status_code, r.content[:300]))
    r = api.client.generic("POST", "/v2/user/favourites", b"action=add&id=301", content_type="application/x-www-form-urlencoded; charset=latin-1", **api.headers())
    out.append(("charset", "", r.status_code, r.content[:300]))
    r = api.client.generic("POST", "/v2/user/favourites", b"action=add&id=301", content_type="application/x-www-form-urlencoded; charset=bogus", **api.headers())
    out.append(("charset-bogus", "", r.status_code, r.content[:300]))
    r = api.client.generic("POST", "/v2/user/favourites", b'{"action":"add","id":"301"}', content_type="application/json; charset=bogus", **api.headers())
    out.append(("jcharset-bogus", "", r.status_code, r.content[:300]))
    r = api.client.generic("POST", "/v2/user/favourites", b'--b\r\nContent-Disposition: form-data; name="action"\r\n\r\nadd\r\n--b\r\nContent-Disposition: form-data; name="id"\r\n\r\n301\xff\r\n--b--\r\n', content_type="multipart/form-data; boundary=b", **api.headers())
    out.append(("mp", "", r.status_code, r.content[:300]))
    r = api.client.generic("POST", "/v2/user/favourites", b'garbage', content_type="multipart/form-data", **api.headers())
    out.append(("mp-noboundary", "", r.status_code, r.content[:300]))
    r = api.client.generic("POST", "/v2/user/favourites", b'garbage', content_type="multipart/form-data; boundary=b", **api.headers())
    out.append(("mp-garbage", "", r.status_code, r.content[:300]))
    r = api.client.generic("POST", "/v2/user/favourites", b'action=add&id=301', content_type="", **api.headers())
    out.append(("noct", "", r.status_code, r.content[:300]))
    r = api.client.generic("POST", "/v2/user/favourites", b'action=add&id=301', content_type="application/x-www-form-urlencoded", QUERY_STRING="action=delete&id=301", **api.headers())
    out.append(("qs+body", "", r.status_code, r.content[:300]))
    r = api.client.post("/v2/user/favourites?action=add&id=301", b'', content_type="application/x-www-form-urlencoded", **api.headers())
    out.append(("qs-only", "", r.status_code, r.content[:300]))
    r = api.client.generic("POST", "/v2/user/favourites", b'{"action":"add","id":"301","user":"1"}', content_type="application/json", **api.headers())
    out.append(("extra", "", r.status_code, r.content[:300]))
    with open("/tmp/probe/out.txt", "w") as f:
        for o in out:
            f.write(repr(o) + "\n")

from typing import Any
from bs4 import BeautifulSoup
from django.test import Client
from kairan.staff.roles import APPROVER, EDITOR
from deliveries.models import Audience
from tests.deliveries.test_sending import make_delivery, town  # noqa


def labels(client, url):
    html = client.get(url).content.decode()
    soup = BeautifulSoup(html, "html.parser")
    out = []
    for el in soup.select("footer button, footer a"):
        out.append(" ".join(el.get_text().split()))
    return out


def test_dump(town: Any, make_staff: Any) -> None:
    author = make_staff("tanto", EDITOR)
    d = make_delivery(author, audience=Audience.ALL, conditions={})
    d.save_revision(user=author)
    c = Client()
    c.force_login(author)
    url = f"/admin/snippets/deliveries/delivery/edit/{d.pk}/"
    print("AUTHOR before", labels(c, url))
    d.get_workflow().start(d, author)
    print("AUTHOR during", labels(c, url))
    approver = make_staff("shonin", APPROVER)
    c2 = Client()
    c2.force_login(approver)
    print("APPROVER during", labels(c2, url))
    html = c2.get("/admin/").content.decode()
    soup = BeautifulSoup(html, "html.parser")
    print("DASH", [" ".join(s.get_text().split())[:300] for s in soup.select("section, .panel")][:12])
    html = c2.get("/admin/snippets/deliveries/delivery/").content.decode()
    soup = BeautifulSoup(html, "html.parser")
    print("LIST", " ".join(soup.select_one("main").get_text().split())[:1500])
    assert 0

"""The interface language: Accept-Language for anonymous pages and the API, the switcher on every page,
the choice remembered per person and applied at each sign-in, zh-hans the production default."""

import pytest
from django.conf import settings
from django.test import Client

from plans.models import UserLanguage
from tests.factories import UserFactory
from tests.test_settings import PRODUCTION_ENV, read

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN,zh;q=0.9"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.9"}


def html_lang(response) -> str:
    text = response.content.decode()
    return text.split('<html lang="', 1)[1].split('"', 1)[0]


def sign_in(client, username, **headers):
    response = client.post("/accounts/login/", {"username": username, "password": "secret-pass-123"}, **headers)
    assert response.status_code == 302, response.content.decode()[:500]
    return response


@pytest.mark.django_db
@pytest.mark.parametrize(("headers", "lang"), [(ZH, "zh-hans"), (EN, "en"), ({}, settings.LANGUAGE_CODE)])
def test_an_anonymous_page_follows_the_browsers_accept_language(client, headers, lang):
    response = client.get("/accounts/login/", **headers)
    assert html_lang(response) == lang
    assert response["Content-Language"] == lang


@pytest.mark.django_db
def test_the_api_answers_in_the_language_the_request_asks_for(client):
    english = client.get("/api/v1/plans/", **EN)
    chinese = client.get("/api/v1/plans/", **ZH)
    assert english.status_code == chinese.status_code == 401
    assert english["Content-Language"] == "en" and chinese["Content-Language"] == "zh-hans"
    assert english.json()["detail"] != chinese.json()["detail"]  # DRF's own Chinese catalogue


@pytest.mark.django_db
def test_every_page_carries_the_switcher_with_both_languages(client):
    UserFactory(username="reader", role="staff")
    for path in ["/accounts/login/", "/accessibility/"]:
        text = client.get(path, **EN).content.decode()
        assert 'action="/i18n/setlang/"' in text
        assert 'value="zh-hans" lang="zh-hans"' in text and ">简体中文</button>" in text
        assert 'value="en" lang="en"' in text and 'aria-pressed="true">English</button>' in text
    sign_in(client, "reader", **EN)
    text = client.get("/", **EN).content.decode()
    assert 'action="/i18n/setlang/"' in text and 'name="next" value="/"' in text


@pytest.mark.django_db
def test_a_choice_made_signed_in_is_remembered_and_applied_on_another_device():
    user = UserFactory(username="reader", role="staff")
    laptop = Client()
    sign_in(laptop, "reader", **EN)
    response = laptop.post("/i18n/setlang/", {"language": "zh-hans", "next": "/my-work/"}, **EN)
    assert response.status_code == 302 and response["Location"] == "/my-work/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert UserLanguage.objects.get(user=user).language == "zh-hans"
    assert html_lang(laptop.get("/my-work/", **EN)) == "zh-hans"

    phone = Client()  # an English browser, no cookie: the stored choice wins from the sign-in on
    sign_in(phone, "reader", **EN)
    page = phone.get("/", **EN)
    assert html_lang(page) == "zh-hans"
    assert page.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"  # the sign-in page after sign-out too

    phone.post("/i18n/setlang/", {"language": "en", "next": "/"}, **ZH)
    assert UserLanguage.objects.get(user=user).language == "en"
    assert html_lang(phone.get("/", **ZH)) == "en"


@pytest.mark.django_db
def test_a_language_picked_on_the_sign_in_page_is_kept_for_a_person_without_a_choice(client):
    user = UserFactory(username="reader", role="staff")
    client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/accounts/login/"}, **EN)
    assert not UserLanguage.objects.exists()  # anonymous: the cookie only
    sign_in(client, "reader", **EN)
    assert UserLanguage.objects.get(user=user).language == "zh-hans"
    assert html_lang(client.get("/", **EN)) == "zh-hans"


@pytest.mark.django_db
def test_an_api_request_with_accept_language_overrides_the_persons_choice():
    user = UserFactory(username="reader", role="staff")
    UserLanguage.objects.create(user=user, language="zh-hans")
    client = Client()
    sign_in(client, "reader")
    assert client.get("/api/v1/plans/", **EN)["Content-Language"] == "en"
    assert client.get("/api/v1/plans/")["Content-Language"] == "zh-hans"
    assert html_lang(client.get("/", **EN)) == "zh-hans"


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["de", "", "zh-hant", "x" * 40])
def test_a_language_the_site_does_not_offer_is_refused_and_nothing_is_stored(client, language):
    UserFactory(username="reader", role="staff")
    sign_in(client, "reader", **EN)
    response = client.post("/i18n/setlang/", {"language": language, "next": "/"}, **EN)
    assert response.status_code == 400
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
    assert not UserLanguage.objects.exists()


@pytest.mark.django_db
def test_the_switcher_only_takes_a_post(client):
    assert client.get("/i18n/setlang/?language=zh-hans").status_code == 405


def test_production_defaults_to_simplified_chinese_and_keeps_english():
    assert read("tracker.settings.production", **PRODUCTION_ENV)["lang"] == "zh-hans"
    assert read("tracker.settings.production", **PRODUCTION_ENV, LANGUAGE_CODE="en")["lang"] == "en"
    assert [code for code, _name in settings.LANGUAGES] == ["en", "zh-hans"]


@pytest.mark.django_db
def test_the_accessibility_statement_is_public_and_linked_from_every_footer(client):
    response = client.get("/accessibility/", **EN)
    assert response.status_code == 200
    text = response.content.decode()
    assert "WCAG" in text and "GB/T 37668-2019" in text and "axe-core" in text
    assert 'href="/accessibility/"' in client.get("/accounts/login/").content.decode()


@pytest.mark.django_db
def test_reminders_are_written_in_the_language_the_person_chose():
    from plans.services.reminders import recipient_language

    chose, did_not = UserFactory(username="chose", role="staff"), UserFactory(username="did-not", role="staff")
    UserLanguage.objects.create(user=chose, language="zh-hans")
    assert recipient_language(chose) == "zh-hans"
    assert recipient_language(did_not) == settings.LANGUAGE_CODE

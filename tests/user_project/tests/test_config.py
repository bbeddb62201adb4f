"""Plain tests on the `etcd_client` fixture: a real etcd, keys cleaned between tests."""

import etcdgen


def test_put_and_get(etcd_client: etcdgen.Client) -> None:
    etcd_client.put("app/config", "on")
    assert etcd_client.get("app/config").kvs[0].value == b"on"


def test_keys_are_cleaned_between_tests(etcd_client: etcdgen.Client) -> None:
    assert etcd_client.get("app/config").count == 0

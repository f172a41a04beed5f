import socket
import urllib.request

import pytest


def test_network_guard_blocks_outside_connections():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    with pytest.raises(RuntimeError, match="network"):
        s.connect(("93.184.216.34", 80))
    s.close()
    with pytest.raises(Exception, match="network"):
        urllib.request.urlopen("http://example.com", timeout=1)


def test_network_guard_allows_loopback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    client = socket.socket()
    client.connect(server.getsockname())
    client.close()
    server.close()

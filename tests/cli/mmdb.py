#!/usr/bin/python3
# Writes a small MaxMind DB (format 2.0, IPv4 tree, 24-bit records) mapping networks to
# {"country": {"iso_code": CC}}, for tests of edged's country rules with libmaxminddb as
# the reader. Spec: https://maxmind.github.io/MaxMind-DB/
#   mmdb.py OUT 192.0.2.0/24=NL 198.51.100.0/24=DE ...
import ipaddress
import struct
import sys


def ctrl(typ, size):
    # Types 1..7 in the control byte; 8 and up as "extended" (0 then type - 7).
    assert size < 29
    if typ <= 7:
        return bytes([(typ << 5) | size])
    return bytes([size, typ - 7])


def enc(v):
    if isinstance(v, str):
        b = v.encode()
        return ctrl(2, len(b)) + b
    if isinstance(v, dict):
        out = ctrl(7, len(v))
        for k, x in v.items():
            out += enc(k) + enc(x)
        return out
    if isinstance(v, list):
        out = ctrl(11, len(v))
        for x in v:
            out += enc(x)
        return out
    if isinstance(v, tuple):  # (type, int): 5 uint16, 6 uint32, 9 uint64
        typ, n = v
        b = n.to_bytes(8, 'big').lstrip(b'\0')
        return ctrl(typ, len(b)) + b
    raise TypeError(v)


def main():
    out = sys.argv[1]
    nets = []
    for arg in sys.argv[2:]:
        net, cc = arg.split('=')
        nets.append((ipaddress.IPv4Network(net), cc))
    # Data section: one record per country.
    data = b''
    offset = {}
    for _, cc in nets:
        if cc not in offset:
            offset[cc] = len(data)
            data += enc({'country': {'iso_code': cc}})
    # Trie: node = [left, right]; an int child is a node index, ('d', cc) data, None empty.
    nodes = [[None, None]]
    for net, cc in nets:
        bits = int(net.network_address)
        n = 0
        for i in range(net.prefixlen):
            bit = (bits >> (31 - i)) & 1
            if i == net.prefixlen - 1:
                nodes[n][bit] = ('d', cc)
            else:
                if not isinstance(nodes[n][bit], int):
                    nodes.append([None, None])
                    nodes[n][bit] = len(nodes) - 1
                n = nodes[n][bit]
    count = len(nodes)

    def rec(x):
        if x is None:
            return count
        if isinstance(x, int):
            return x
        return count + 16 + offset[x[1]]

    tree = b''
    for l, r in nodes:
        tree += rec(l).to_bytes(3, 'big') + rec(r).to_bytes(3, 'big')
    meta = enc({
        'node_count': (6, count),
        'record_size': (5, 24),
        'ip_version': (5, 4),
        'database_type': 'Warren-Test-Country',
        'languages': ['en'],
        'binary_format_major_version': (5, 2),
        'binary_format_minor_version': (5, 0),
        'build_epoch': (9, 1700000000),
        'description': {'en': 'Warren test data'},
    })
    with open(out, 'wb') as f:
        f.write(tree + b'\0' * 16 + data + b'\xab\xcd\xefMaxMind.com' + meta)


if __name__ == '__main__':
    main()

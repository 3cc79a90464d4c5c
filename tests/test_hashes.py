"""kamapy.hashes against values Kamailio 5.6.3 itself gave: {s.corehash}, {s.corehash,4096}
and {s.corehash,8} of an X-In header, sent through a running kamailio (sl_send_reply put
them in the reason phrase); bytes >= 0x80 check its signed-char reading."""
import pytest

from kamapy.hashes import core_hash, hash1_raw

KAMAILIO = [  # input, core_hash, & 4095, & 7
    (b"", 0, 0, 0),
    (b"a", 109, 109, 5),
    (b"ab", 27998, 3422, 6),
    (b"abc", 7167810, 3906, 2),
    (b"abcd", 1834959896, 1048, 0),
    (b"abcde", 1834960001, 1153, 1),
    (b"abcdefg", 1841897292, 3916, 4),
    (b"3c2a4b1e5f@127.0.0.1", 4233606429, 1309, 5),
    (b"call-1@127.0.0.1", 4164117998, 1518, 6),
    (b"dlg_hash_entry@127.0.0.1", 4288633149, 2365, 5),
    (b"a84b4c76e66710@pc33.atlanta.com", 2175018094, 1134, 6),
    (b"\xff", 3760390592, 448, 0),
    (b"\x80\x81", 3760427591, 583, 7),
    (b"caf\xe9-\xfc\xff\xa0x", 2559155766, 3638, 6),
    (b"\xc3\xa9t\xc3\xa9@h\xf6st", 2541547229, 3805, 5),
    (b"1-12345@127.0.0.1", 3653088559, 1327, 7),
    (b"0123456789abcdef0123456789abcdef", 778762476, 2284, 4),
]


@pytest.mark.parametrize("data,raw,s4096,s8", KAMAILIO)
def test_core_hash_matches_kamailio(data, raw, s4096, s8):
    assert core_hash(data) == raw
    assert core_hash(data, 4096) == s4096
    assert core_hash(data, 8) == s8
    assert core_hash(data, 1) == 0


@pytest.mark.parametrize("data,raw,s4096,s8", KAMAILIO)
def test_hash1_raw_is_core_hash_without_size(data, raw, s4096, s8):
    # get_hash1_raw and core_hash(s, NULL, 0) add the same words; only the tail is
    # written differently in C
    assert hash1_raw(data) == raw

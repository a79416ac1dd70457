import pytest

from mm2music.errors import ConfigError
from mm2music.key import Key, tonic_name


@pytest.mark.parametrize("text, pc, mode", [
    ("E-flat major", 3, "major"), ("Eb major", 3, "major"), ("E♭ minor", 3, "minor"), ("ebm", 3, "minor"),
    ("c# minor", 1, "minor"), ("Bbm", 10, "minor"), ("D minor", 2, "minor"), ("F# major", 6, "major"),
    ("Bb", 10, "major"), ("Em", 4, "minor"), ("f#", 6, "minor"), ("B- major", 10, "major"),
    ("F sharp minor", 6, "minor"), ("C-sharp major", 1, "major"), ("  a  ", 9, "minor"), ("Gbmaj", 6, "major"),
    ("Cb major", 11, "major"), ("E# minor", 5, "minor"), ("A min", 9, "minor"),
])
def test_spellings_people_write(text, pc, mode):
    assert Key.parse(text) == Key(pc, mode)


def test_canonical_spelling_and_round_trip():
    assert str(Key.parse("E-flat minor")) == "Eb minor" and str(Key.parse("c# minor")) == "C# minor"
    assert str(Key.parse("Db major")) == "Db major" and str(Key(1, "major")) == "Db major"
    for mode in ("major", "minor"):
        for pc in range(12):
            k = Key(pc, mode)
            assert Key.parse(str(k)) == k and Key.of(k.tonic, mode) == k
    assert tonic_name(10, "major") == "Bb" and tonic_name(8, "minor") == "G#"


def test_relations_and_signature():
    assert Key.parse("C major").relative() == Key(9, "minor") and Key(9, "minor").relative() == Key(0, "major")
    assert Key.parse("B major").transpose(2) == Key(1, "major")
    assert Key.parse("D major").sharps == 2 and Key.parse("C minor").sharps == -3 and Key.parse("F# minor").sharps == 3
    pc, mode = Key.parse("Bbm")
    assert (pc, mode) == (10, "minor")


@pytest.mark.parametrize("bad", ["H major", "", "E-flat dorian", "Ebb major x", "major", "C##m7"])
def test_bad_keys_say_what_and_how(bad):
    with pytest.raises(ConfigError, match=r"--key .* is not a key like 'D minor'"):
        Key.parse(bad, what="--key")


def test_value_type_validates_itself():
    with pytest.raises(ConfigError, match="pitch class 12"):
        Key(12, "major")
    with pytest.raises(ConfigError, match="mode 'dorian'"):
        Key(0, "dorian")
    with pytest.raises(ConfigError, match="is not a key"):
        Key.parse(None)

"""Trust rules on synthetic reads, and fuzzy matching against an expected list."""

from __future__ import annotations

from ocr.decoders import OCR, ZBAR, ZXING, Read, normalise
from ocr.evidence import decide, trusted
from ocr.manifest import Manifest, bounded_levenshtein, fuzzy_match

CENTRE = (320.0, 240.0)
NOWHERE = Manifest(())
BOX = ((200.0, 200.0), (440.0, 200.0), (440.0, 280.0), (200.0, 280.0))
OTHER_BOX = ((10.0, 400.0), (150.0, 400.0), (150.0, 470.0), (10.0, 470.0))


def read(
    text: str,
    symbology: str = "EAN13",
    decoder: str = ZXING,
    variant: str = "gray",
    view: str = "orig",
    quad: tuple[tuple[float, float], ...] | None = BOX,
) -> Read:
    return Read(text, symbology, decoder, variant, view, quad)


ISBN = "9780441014989"


def test_two_decoders_agreeing_are_trusted() -> None:
    verdict = decide([read(ISBN, decoder=ZXING), read(ISBN, decoder=ZBAR)], NOWHERE, CENTRE)
    assert verdict is not None and verdict.text == ISBN and verdict.confidence == 1.0


def test_one_read_of_a_retail_code_is_not_enough() -> None:
    assert decide([read(ISBN)], NOWHERE, CENTRE) is None


def test_photometric_variants_of_one_picture_do_not_confirm_each_other() -> None:
    reads = [read(ISBN, variant="gray"), read(ISBN, variant="clahe"), read(ISBN, variant="thresh")]
    assert decide(reads, NOWHERE, CENTRE) is None


def test_same_decoder_on_two_geometries_is_trusted_less() -> None:
    reads = [read(ISBN, view="orig"), read(ISBN, variant="upscale2x", view="up")]
    verdict = decide(reads, NOWHERE, CENTRE)
    assert verdict is not None and verdict.confidence == 0.9


def test_same_decoder_repeat_loses_to_a_rival_read_of_the_same_symbol() -> None:
    # ZBar repeats its own misreads across scales; zxing-cpp saw something else there.
    wrong = "9711010200137"
    reads = [
        read(wrong, decoder=ZBAR, view="orig"),
        read(wrong, decoder=ZBAR, variant="upscale2x", view="up"),
        read("752050200137", symbology="UPCA", decoder=ZXING),
    ]
    assert decide(reads, NOWHERE, CENTRE) is None


def test_rival_elsewhere_in_the_picture_does_not_interfere() -> None:
    reads = [
        read(ISBN, view="orig"),
        read(ISBN, variant="upscale2x", view="up"),
        read("1920081045006", decoder=ZBAR, quad=OTHER_BOX),
    ]
    verdict = decide(reads, NOWHERE, CENTRE)
    assert verdict is not None and verdict.text == ISBN


def test_short_codes_need_two_decoders() -> None:
    for text, symbology in (("04963406", "UPCE"), ("12345670", "EAN8"), ("0053611912", "ITF")):
        reads = [read(text, symbology), read(text, symbology, variant="upscale2x", view="up")]
        assert decide(reads, NOWHERE, CENTRE) is None, symbology
        reads.append(read(text, symbology, decoder=ZBAR))
        assert decide(reads, NOWHERE, CENTRE) is not None, symbology


def test_truncated_itf_reads_are_ignored() -> None:
    reads = [
        read("0053611912", "ITF", ZXING),
        read("0053611912", "ITF", ZBAR),
        read("00536119", "ITF", ZXING),
        read("00536119", "ITF", ZBAR),
    ]
    assert [v.text for v in trusted(reads, NOWHERE, CENTRE)] == ["0053611912"]


def test_itf_from_rotated_pictures_is_ignored() -> None:
    reads = [read("005361", "ITF", d, "rot-15", "rot-15") for d in (ZXING, ZBAR)]
    assert decide(reads, NOWHERE, CENTRE) is None


def test_checksum_failures_are_never_trusted() -> None:
    reads = [read("9780441014988", decoder=d) for d in (ZXING, ZBAR)]
    assert decide(reads, NOWHERE, CENTRE) is None


def test_text_symbologies_are_trusted_on_one_read() -> None:
    verdict = decide([read("CNK8181G2C", "CODE128")], NOWHERE, CENTRE)
    assert verdict is not None and verdict.confidence == 0.9


def test_zxing_wins_when_decoders_disagree_on_a_text_symbology() -> None:
    reads = [read("ssss1234ssabszz", "CODE128", ZBAR), read("óóóó1234óóabózz", "CODE128", ZXING)]
    assert [v.text for v in trusted(reads, NOWHERE, CENTRE)] == ["óóóó1234óóabózz"]


def test_very_short_text_and_codabar_need_more_than_one_read() -> None:
    assert decide([read("C", "CODE128", ZBAR)], NOWHERE, CENTRE) is None
    assert decide([read("A74A", "CODABAR")], NOWHERE, CENTRE) is None


def test_expected_code_is_trusted_on_one_read() -> None:
    verdict = decide([read(ISBN)], Manifest([ISBN]), CENTRE)
    assert verdict is not None and verdict.in_expected and verdict.confidence == 1.0


def test_expected_list_may_spell_upc_a_with_13_digits() -> None:
    verdict = decide([read("036602301467", "UPCA")], Manifest(["0036602301467"]), CENTRE)
    assert verdict is not None and verdict.text == "0036602301467"


def test_expected_codes_rank_before_others() -> None:
    reads = [read(ISBN, decoder=d) for d in (ZXING, ZBAR)]
    reads += [read("1920081045006", decoder=d, quad=OTHER_BOX) for d in (ZXING, ZBAR)]
    verdict = decide(reads, Manifest(["1920081045006"]), CENTRE)
    assert verdict is not None and verdict.text == "1920081045006"


def test_the_more_central_of_two_equal_codes_wins() -> None:
    reads = [read(ISBN, decoder=d) for d in (ZXING, ZBAR)]
    reads += [read("1920081045006", decoder=d, quad=OTHER_BOX) for d in (ZXING, ZBAR)]
    verdict = decide(reads, NOWHERE, CENTRE)
    assert verdict is not None and verdict.text == ISBN


def test_ocr_confirms_a_decoder_read() -> None:
    reads = [read(ISBN), read(ISBN, decoder=OCR, variant="strip", view="ocr", quad=None)]
    verdict = decide(reads, NOWHERE, CENTRE)
    assert verdict is not None and verdict.confidence == 0.95


def test_ocr_alone_is_never_trusted_without_an_expected_list() -> None:
    reads = [read(ISBN, decoder=OCR, variant="strip", view="ocr", quad=None)]
    assert decide(reads, NOWHERE, CENTRE) is None


def test_normalise_follows_zxing_conventions() -> None:
    assert normalise("EAN13", "0036602301467") == ("036602301467", "UPCA")
    assert normalise("UPCA", "036602301467") == ("036602301467", "UPCA")
    assert normalise("UPCE", "0050968000093") == ("05096893", "UPCE")
    assert normalise("UPCE", "0050968000093", "05096893") == ("05096893", "UPCE")
    assert normalise("CODE128", "\x1d8101054321120021123456") == (
        "8101054321120021123456",
        "CODE128",
    )
    assert normalise("CODE39", "*ABC123*") == ("ABC123", "CODE39")
    assert normalise("EAN13", "97804410149") is None


def test_levenshtein_with_bound() -> None:
    assert bounded_levenshtein("9780441014989", "9780441014989", 2) == 0
    assert bounded_levenshtein("978044101498", "9780441014989", 2) == 1
    assert bounded_levenshtein("9780447014988", "9780441014989", 2) == 2
    assert bounded_levenshtein("1234", "9780441014989", 2) == 3


def test_fuzzy_match_takes_the_clearly_closest_code() -> None:
    manifest = Manifest([ISBN, "9784872348880", "036602301467"])
    match = fuzzy_match(["978044101498"], manifest)  # OCR lost the last digit
    assert match is not None and match.code == ISBN and match.distance == 1


def test_fuzzy_match_refuses_ambiguous_and_distant_candidates() -> None:
    # Two expected codes one edit apart: a read between them matches neither.
    manifest = Manifest(["9780441014989", "9780441014972"])
    assert fuzzy_match(["978044101497"], manifest) is None
    assert fuzzy_match(["5012345678900"], Manifest([ISBN])) is None
    assert fuzzy_match(["123"], Manifest(["123"])) is None  # too short to mean anything


def test_fuzzy_match_knows_upc_spellings() -> None:
    match = fuzzy_match(["0036602301461"], Manifest(["036602301467"]))
    assert match is not None and match.code == "036602301467" and match.distance == 1


def test_expected_upc_a_matches_its_upc_e_symbol() -> None:
    manifest = Manifest(["050968000093"])
    assert manifest.lookup("05096893") == "050968000093"
    assert manifest.lookup("0050968000093") == "050968000093"
    assert Manifest(["05096893"]).lookup("050968000093") == "05096893"

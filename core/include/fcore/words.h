/*
 * words - Unicode-aware word splitting of UTF-8 text, for Bayes and rules.
 *
 * A word is a run of letters, digits and combining marks (ASCII fast path,
 * then built-in ranges for the scripts mail is written in). Inside a word an
 * apostrophe between letters ("don't"), a '.' between word characters
 * ("e.g", "3.14", "example.com") and a ',' between digits ("1,000") are kept,
 * and invisible characters used to break words apart (zero-width space and
 * joiners, soft hyphen, BOM) are dropped. Han and kana have no spaces, so
 * each run of them gives overlapping bigrams (a lone character: a unigram).
 *
 * Normalisation: case folding for ASCII, Latin-1, Latin Extended-A, Greek,
 * Cyrillic and Armenian; fullwidth ASCII forms to ASCII (the cheap part of
 * NFKC); U+2019 to "'". Invalid UTF-8 separates words. Words longer than
 * WORDS_MAX_LEN bytes are dropped and counted (base64 junk, hashes).
 */
#ifndef FCORE_WORDS_H
#define FCORE_WORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "fcore/buf.h"

struct arena;

#define WORDS_MAX_LEN 40 /* bytes; SpamAssassin's tokens stay well below */

struct words {
	struct arena *a;
	struct span *v;  /* spans into arena copies, valid for the arena's life */
	size_t n;
	size_t cap;
	size_t nlong;    /* words dropped as longer than WORDS_MAX_LEN */
};

void words_init(struct words *w, struct arena *a);

/* Appends the words of text. 0, or -1 when the arena budget ran out (the
 * words found until then are kept). */
int words_add(struct words *w, struct span text);

#endif

/* SPDX-License-Identifier: MIT */
/* Helpers shared by the unit tests of the profile writers: a profile from folded text, and a
 * profile's folded text. Include after cmocka.h. */
#ifndef PYPROF_TEST_PROFILE_FIXTURE_H
#define PYPROF_TEST_PROFILE_FIXTURE_H

#include <stdio.h>
#include <string.h>
#include "format/folded.h"
#include "profile/profile.h"

static inline void load_text(struct profile *p, const char *text)
{
	struct folded_parser fp;
	char err[256] = "";

	profile__init(p);
	folded_parser__init(&fp, p);
	if (folded_parser__feed(&fp, text, strlen(text), err, sizeof(err)) ||
	    folded_parser__finish(&fp, err, sizeof(err)))
		fail_msg("%s", err);
	folded_parser__free(&fp);
}

static inline char *folded_text(const struct profile *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(folded__write(p, f), 0);
	fclose(f);
	return buf;
}

#endif

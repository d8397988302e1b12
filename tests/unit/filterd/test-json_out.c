/* json_out writes what jansson's json_dumps(JSON_COMPACT |
 * JSON_REAL_PRECISION(9)) writes for the same values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "json_out.h"

static const char *const strings[] = {
	"", "plain", "a\"b\\c", "\b\f\n\r\t", "\x01\x1f\x7f", "/slash/", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	"bad \xff", "overlong \xc0\xaf", "surrogate \xed\xa0\x80", "cut \xe2\x82", "high \xf4\x90\x80\x80",
};

static const double reals[] = { 0.0, -0.0, 1.0, -3.0, 5.1, 0.1, 1e-5, 2.5e-7, 123456789.123, 1e21, 1e300,
	15.0, 6.000000001, 2.0 / 3.0, -4.44, 0.999999999, 1234567890123.0, 100.0, 1e9, 1.5e10 };

static char *
with_jansson(void)
{
	json_t *o = json_object(), *a = json_array();
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		char key[16];
		snprintf(key, sizeof(key), "s%zu", i);
		json_object_set_new(o, key, json_string(strings[i]));
		json_array_append_new(a, json_string(strings[i]));
	}
	json_object_set_new(o, "arr", a);
	json_t *r = json_array();
	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++)
		json_array_append_new(r, json_real(reals[i]));
	json_object_set_new(o, "reals", r);
	json_object_set_new(o, "int", json_integer(-42));
	json_object_set_new(o, "t", json_true());
	json_object_set_new(o, "f", json_false());
	json_t *nested = json_object();
	json_object_set_new(nested, "empty", json_array());
	json_object_set_new(nested, "obj", json_object());
	json_object_set_new(o, "nested", nested);
	char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
	json_decref(o);
	return s;
}

static void
with_json_out(struct buf *b)
{
	struct json_out j;
	jo_init(&j, b);
	jo_obj_begin(&j);
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		char key[16];
		snprintf(key, sizeof(key), "s%zu", i);
		jo_member_str(&j, key, strings[i]);
	}
	jo_key(&j, "arr");
	jo_arr_begin(&j);
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (jo_utf8_valid(strings[i]))
			jo_str(&j, strings[i]);
	jo_arr_end(&j);
	jo_key(&j, "reals");
	jo_arr_begin(&j);
	for (size_t i = 0; i < sizeof(reals) / sizeof(reals[0]); i++)
		jo_real(&j, reals[i]);
	jo_arr_end(&j);
	jo_key(&j, "int");
	jo_int(&j, -42);
	jo_key(&j, "t");
	jo_bool(&j, true);
	jo_key(&j, "f");
	jo_bool(&j, false);
	jo_key(&j, "nested");
	jo_obj_begin(&j);
	jo_key(&j, "empty");
	jo_arr_begin(&j);
	jo_arr_end(&j);
	jo_key(&j, "obj");
	jo_obj_begin(&j);
	jo_obj_end(&j);
	jo_obj_end(&j);
	jo_obj_end(&j);
}

static void
test_same_as_jansson(void **state)
{
	(void)state;
	char *want = with_jansson();
	struct buf b;
	buf_init(&b, NULL);
	with_json_out(&b);
	assert_string_equal(buf_cstr(&b), want);
	/* the invalid strings were left out, as jansson refused them */
	assert_null(strstr(want, "bad"));
	assert_non_null(strstr(want, "\\u0001\\u001F\x7f"));
	buf_deinit(&b);
	free(want);
}

static void
test_utf8_validation(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		json_t *s = json_string(strings[i]);
		assert_int_equal(jo_utf8_valid(strings[i]), s != NULL);
		json_decref(s);
	}
}

static void
expect_real_as_jansson(double v)
{
	json_t *r = json_real(v);
	char *want = json_dumps(r, JSON_ENCODE_ANY | JSON_REAL_PRECISION(9));
	struct buf b;
	struct json_out j;
	buf_init(&b, NULL);
	jo_init(&j, &b);
	jo_real(&j, v);
	if (strcmp(buf_cstr(&b), want) != 0)
		fail_msg("%.17g: json_out wrote %s, jansson %s", v, buf_cstr(&b), want);
	buf_deinit(&b);
	free(want);
	json_decref(r);
}

/* Values with at most three decimals take json_out's own path (scores,
 * thresholds); each must come out as the general one writes it, at the
 * path's edges too, and sums of scores that miss k/1000 by a rounding
 * error as well as values just off three decimals. */
static void
test_reals_as_jansson(void **state)
{
	(void)state;
	for (long k = -2000000; k <= 2000000; k += 7)
		expect_real_as_jansson((double)k / 1000.0);
	for (long k = 999000000; k < 1000000000; k += 997)
		expect_real_as_jansson((double)k / 1000.0);
	static const double edges[] = { 0.001, 0.0009999999, 0.0010000001, 999999.999, 1e6, 999999.9995,
		0.1 + 0.2, 0.7 + 0.1 + 0.006, 2.3 - 0.006 * 3, 5.1 * 3, 1.0 / 3.0, 0.0005, 0.0015,
		123.4565, -0.001, -999999.999, 15.0, 100.0, 0.000999 };
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		expect_real_as_jansson(edges[i]);
	double sum = 0;
	for (int i = 0; i < 200; i++) {
		sum += (i % 7) * 0.1 - (i % 3) * 0.001 + 0.013;
		expect_real_as_jansson(sum);
		expect_real_as_jansson(-sum);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_jansson),
		cmocka_unit_test(test_utf8_validation),
		cmocka_unit_test(test_reals_as_jansson),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

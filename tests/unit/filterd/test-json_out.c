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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_jansson),
		cmocka_unit_test(test_utf8_validation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

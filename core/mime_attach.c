/*
 * mime_attach.c - attachment facts: name, detected type, extension checks.
 *
 * The detected type comes from libmagic on the first MAGIC_PREFIX bytes of
 * the decoded body. The magic cookie is opened lazily, once per thread (a
 * cookie is not thread-safe; in practice a worker parses on one thread, so
 * this is once per process), because magic_load() parses the whole magic
 * database and costs milliseconds.
 */
#include <magic.h>
#include <string.h>
#include <strings.h>

#include "mime-private.h"

#define MAGIC_PREFIX (16 * 1024)

static _Thread_local magic_t cookie;
static _Thread_local bool cookie_failed;

const char *
mime_magic_type(const uint8_t *p, size_t len)
{
	if (cookie == NULL && !cookie_failed) {
		cookie = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS |
		    MAGIC_NO_CHECK_ELF);
		if (cookie == NULL || magic_load(cookie, NULL) != 0) {
			if (cookie != NULL)
				magic_close(cookie);
			cookie = NULL;
			cookie_failed = true;
		}
	}
	if (cookie == NULL)
		return NULL;
	if (len == 0)
		return "application/x-empty";
	return magic_buffer(cookie, p, len > MAGIC_PREFIX ? MAGIC_PREFIX : len);
}

/* Types libmagic may report for a file with this extension. A prefix match
 * on the type ("text/") accepts a whole family. */
static const struct {
	const char *ext;
	const char *types;
} ext_tab[] = {
	{ "pdf", "application/pdf" },
	{ "zip", "application/zip application/x-zip" },
	{ "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" },
	{ "png", "image/png" }, { "gif", "image/gif" }, { "bmp", "image/bmp image/x-ms-bmp" },
	{ "tif", "image/tiff" }, { "tiff", "image/tiff" },
	{ "exe", "application/x-dosexec application/x-msdownload application/vnd.microsoft.portable-executable" },
	{ "dll", "application/x-dosexec application/vnd.microsoft.portable-executable" },
	{ "rar", "application/x-rar application/vnd.rar" },
	{ "7z", "application/x-7z-compressed" },
	{ "gz", "application/gzip application/x-gzip" },
	{ "doc", "application/msword application/CDFV2 application/x-ole-storage application/vnd.ms-office" },
	{ "xls", "application/vnd.ms-excel application/CDFV2 application/x-ole-storage application/vnd.ms-office" },
	{ "ppt", "application/vnd.ms-powerpoint application/CDFV2 application/x-ole-storage application/vnd.ms-office" },
	{ "docx", "application/vnd.openxmlformats-officedocument application/zip application/octet-stream" },
	{ "xlsx", "application/vnd.openxmlformats-officedocument application/zip application/octet-stream" },
	{ "pptx", "application/vnd.openxmlformats-officedocument application/zip application/octet-stream" },
	{ "html", "text/html text/plain text/xml" }, { "htm", "text/html text/plain text/xml" },
	{ "txt", "text/ application/x-empty" },
	{ "wav", "audio/" }, { "mp3", "audio/" }, { "mp4", "video/ audio/" },
};

/* Extensions that run code when opened on Windows. */
static const char *const bad_ext[] = { "exe", "scr", "pif", "com", "bat", "cmd", "vbs", "vbe",
	"js", "jse", "wsf", "wsh", "hta", "cpl", "msi", "jar", "lnk", "reg", "ps1", "iso", "img" };

static bool
type_listed(const char *list, const char *type)
{
	size_t tl = strlen(type);
	const char *p = list;
	while (*p) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		bool prefix = n > 0 && p[n - 1] == '/';
		if ((prefix && tl >= n && strncasecmp(type, p, n) == 0) ||
		    (!prefix && (tl == n || (tl > n && type[n] == '.')) && strncasecmp(type, p, n) == 0))
			return true;
		p += n;
		while (*p == ' ')
			p++;
	}
	return false;
}

static const char *
ext_of(const char *name, size_t end)
{
	for (size_t i = end; i > 0; i--) {
		if (name[i - 1] == '.')
			return name + i;
		if (name[i - 1] == '/' || name[i - 1] == '\\')
			break;
	}
	return NULL;
}

static bool
is_bad_ext(const char *ext, size_t n)
{
	for (size_t i = 0; i < sizeof(bad_ext) / sizeof(bad_ext[0]); i++)
		if (strlen(bad_ext[i]) == n && strncasecmp(ext, bad_ext[i], n) == 0)
			return true;
	return false;
}

static void
check_ext(struct mime_ctx *c, struct mime_part *p)
{
	size_t nl = strlen(p->filename);
	while (nl > 0 && (p->filename[nl - 1] == ' ' || p->filename[nl - 1] == '.'))
		nl--;
	const char *ext = ext_of(p->filename, nl);
	if (ext == NULL)
		return;
	size_t el = (size_t)(p->filename + nl - ext);
	if (is_bad_ext(ext, el)) {
		const char *prev = ext - 1 > p->filename ? ext_of(p->filename, (size_t)(ext - 1 - p->filename)) : NULL;
		/* "invoice.pdf.exe": a harmless-looking extension in front */
		if (prev != NULL && ext - 1 - prev >= 2 && ext - 1 - prev <= 4)
			mime_anomaly_add(c, MIME_A_DOUBLE_BAD_EXTENSION, p->filename, (int)p->index);
		else
			mime_anomaly_add(c, MIME_A_BAD_EXTENSION, p->filename, (int)p->index);
	}
	if (p->detected_type == NULL || p->decoded.len == 0)
		return;
	for (size_t i = 0; i < sizeof(ext_tab) / sizeof(ext_tab[0]); i++) {
		if (strlen(ext_tab[i].ext) != el || strncasecmp(ext, ext_tab[i].ext, el) != 0)
			continue;
		if (!type_listed(ext_tab[i].types, p->detected_type)) {
			p->flags |= MIME_PART_EXT_MISMATCH;
			mime_anomaly_add(c, MIME_A_BAD_ATTACHMENT, p->filename, (int)p->index);
		}
		return;
	}
}

void
mime_attach_check(struct mime_ctx *c, struct mime_part *p)
{
	bool plain_text = strcmp(p->type, "text") == 0 && !(p->flags & MIME_PART_ATTACHMENT);

	/* libmagic on every inline text part would cost more than the parse */
	if (!plain_text && !(p->flags & (MIME_PART_MULTIPART | MIME_PART_MESSAGE))) {
		const char *t = mime_magic_type(p->decoded.p, p->decoded.len);
		if (t != NULL)
			p->detected_type = arena_strdup(c->a, t);
	}
	if (p->filename != NULL)
		check_ext(c, p);
}

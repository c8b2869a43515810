// libcurl, libarchive, libcrypto, libnftables and libseccomp, loaded on first use instead of at every start.
//
// Why: the runtime paths (run, the child-mode stage, exec, ps, stop, rm) need none of them, yet linking
// them makes the dynamic loader map and relocate about 35 libraries (libcurl alone brings gnutls,
// kerberos, ldap, ICU, ...) at every exec of cppcker: ~18 ms, paid twice per `run` (the CLI and its
// child-mode stage), and several MB of resident memory in every monitor. Each function below has the
// library's own signature and forwards to the real one, resolved with dlsym() on its first call.
#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <nftables/libnftables.h>
#include <openssl/evp.h>
#include <seccomp.h>

#include <cstdarg>
#include <string>

#include "cppcker/util/error.hpp"

namespace {

void* open_library(const char* soname) {
  void* handle = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = ::dlerror();
    throw cppcker::Error(std::string("cannot load ") + soname + ": " + (why ? why : "unknown error"));
  }
  return handle;
}

void* resolve(void* (*library)(), const char* name) {
  void* fn = ::dlsym(library(), name);
  if (!fn) throw cppcker::Error(std::string("symbol ") + name + " missing from its library");
  return fn;
}

// One handle per library, opened on the first call that needs it.
template <const char* Soname>
void* library() {
  static void* handle = open_library(Soname);
  return handle;
}
constexpr char kCurl[] = CPPCKER_LIBCURL_SONAME;
constexpr char kArchive[] = CPPCKER_LIBARCHIVE_SONAME;
constexpr char kCrypto[] = CPPCKER_LIBCRYPTO_SONAME;
constexpr char kNftables[] = CPPCKER_LIBNFTABLES_SONAME;
constexpr char kSeccomp[] = CPPCKER_LIBSECCOMP_SONAME;
constexpr auto curl_library = library<kCurl>;
constexpr auto archive_library = library<kArchive>;
constexpr auto crypto_library = library<kCrypto>;
constexpr auto nftables_library = library<kNftables>;
constexpr auto seccomp_library = library<kSeccomp>;

}  // namespace

// Defines `name` with its declared type, calling the real function. PARAMS and ARGS are parenthesised.
#define CPPCKER_FORWARD(library, name, params, args)                                  \
  extern "C" auto name params->decltype(::name args) {                                \
    static auto real = reinterpret_cast<decltype(&::name)>(resolve(library, #name)); \
    return real args;                                                                 \
  }

// ---- libcurl
CPPCKER_FORWARD(curl_library, curl_global_init, (long flags), (flags))
CPPCKER_FORWARD(curl_library, curl_easy_init, (void), ())
CPPCKER_FORWARD(curl_library, curl_easy_cleanup, (CURL * h), (h))
CPPCKER_FORWARD(curl_library, curl_easy_reset, (CURL * h), (h))
CPPCKER_FORWARD(curl_library, curl_easy_perform, (CURL * h), (h))
CPPCKER_FORWARD(curl_library, curl_easy_strerror, (CURLcode code), (code))
CPPCKER_FORWARD(curl_library, curl_free, (void* p), (p))
CPPCKER_FORWARD(curl_library, curl_slist_append, (curl_slist * list, const char* s), (list, s))
CPPCKER_FORWARD(curl_library, curl_slist_free_all, (curl_slist * list), (list))
CPPCKER_FORWARD(curl_library, curl_url, (void), ())
CPPCKER_FORWARD(curl_library, curl_url_cleanup, (CURLU * u), (u))
CPPCKER_FORWARD(curl_library, curl_url_get, (CURLU* u, CURLUPart part, char** out, unsigned int flags),
                (u, part, out, flags))
CPPCKER_FORWARD(curl_library, curl_url_set, (CURLU * u, CURLUPart part, const char* text, unsigned int flags),
                (u, part, text, flags))

// The variadic two take exactly one more argument: a long, a curl_off_t, a pointer or a function pointer,
// all passed in one integer register on the ABIs Debian builds for, so it is forwarded as one word.
static_assert(sizeof(long) == sizeof(void*) && sizeof(curl_off_t) == sizeof(void*));
extern "C" CURLcode curl_easy_setopt(CURL* h, CURLoption option, ...) {
  using Real = CURLcode (*)(CURL*, CURLoption, ...);
  static auto real = reinterpret_cast<Real>(resolve(curl_library, "curl_easy_setopt"));
  va_list ap;
  va_start(ap, option);
  void* value = va_arg(ap, void*);
  va_end(ap);
  return real(h, option, value);
}
extern "C" CURLcode curl_easy_getinfo(CURL* h, CURLINFO info, ...) {
  using Real = CURLcode (*)(CURL*, CURLINFO, ...);
  static auto real = reinterpret_cast<Real>(resolve(curl_library, "curl_easy_getinfo"));
  va_list ap;
  va_start(ap, info);
  void* out = va_arg(ap, void*);
  va_end(ap);
  return real(h, info, out);
}

// ---- libarchive
CPPCKER_FORWARD(archive_library, archive_read_new, (void), ())
CPPCKER_FORWARD(archive_library, archive_read_free, (archive * a), (a))
CPPCKER_FORWARD(archive_library, archive_read_support_format_tar, (archive * a), (a))
CPPCKER_FORWARD(archive_library, archive_read_support_format_gnutar, (archive * a), (a))
CPPCKER_FORWARD(archive_library, archive_read_open,
                (archive * a, void* data, archive_open_callback* open, archive_read_callback* read,
                 archive_close_callback* close),
                (a, data, open, read, close))
CPPCKER_FORWARD(archive_library, archive_read_next_header, (archive * a, archive_entry** entry), (a, entry))
CPPCKER_FORWARD(archive_library, archive_read_data_block,
                (archive * a, const void** buf, size_t* size, la_int64_t* offset), (a, buf, size, offset))
CPPCKER_FORWARD(archive_library, archive_error_string, (archive * a), (a))
CPPCKER_FORWARD(archive_library, archive_write_new, (void), ())
CPPCKER_FORWARD(archive_library, archive_write_free, (archive * a), (a))
CPPCKER_FORWARD(archive_library, archive_write_close, (archive * a), (a))
CPPCKER_FORWARD(archive_library, archive_write_set_format_pax_restricted, (archive * a), (a))
CPPCKER_FORWARD(archive_library, archive_write_open_fd, (archive * a, int fd), (a, fd))
CPPCKER_FORWARD(archive_library, archive_write_header, (archive * a, archive_entry* e), (a, e))
CPPCKER_FORWARD(archive_library, archive_write_data, (archive * a, const void* buf, size_t size), (a, buf, size))
CPPCKER_FORWARD(archive_library, archive_entry_new, (void), ())
CPPCKER_FORWARD(archive_library, archive_entry_free, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_filetype, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_gid, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_uid, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_hardlink, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_symlink, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_pathname, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_mtime, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_mtime_nsec, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_perm, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_rdev, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_size, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_set_filetype, (archive_entry * e, unsigned int type), (e, type))
CPPCKER_FORWARD(archive_library, archive_entry_set_pathname, (archive_entry * e, const char* path), (e, path))
CPPCKER_FORWARD(archive_library, archive_entry_set_perm, (archive_entry * e, mode_t perm), (e, perm))
CPPCKER_FORWARD(archive_library, archive_entry_set_size, (archive_entry * e, la_int64_t size), (e, size))
CPPCKER_FORWARD(archive_library, archive_entry_xattr_reset, (archive_entry * e), (e))
CPPCKER_FORWARD(archive_library, archive_entry_xattr_next,
                (archive_entry * e, const char** name, const void** value, size_t* size), (e, name, value, size))
// (layer tars written from a container's upper dir: storage/layer_writer)
CPPCKER_FORWARD(archive_library, archive_write_open,
                (archive * a, void* data, archive_open_callback* open, archive_write_callback* write,
                 archive_close_callback* close),
                (a, data, open, write, close))
CPPCKER_FORWARD(archive_library, archive_write_set_bytes_per_block, (archive * a, int bytes), (a, bytes))
CPPCKER_FORWARD(archive_library, archive_entry_set_uid, (archive_entry * e, la_int64_t uid), (e, uid))
CPPCKER_FORWARD(archive_library, archive_entry_set_gid, (archive_entry * e, la_int64_t gid), (e, gid))
CPPCKER_FORWARD(archive_library, archive_entry_set_mtime, (archive_entry * e, time_t sec, long nsec), (e, sec, nsec))
CPPCKER_FORWARD(archive_library, archive_entry_set_hardlink, (archive_entry * e, const char* target), (e, target))
CPPCKER_FORWARD(archive_library, archive_entry_set_symlink, (archive_entry * e, const char* target), (e, target))
CPPCKER_FORWARD(archive_library, archive_entry_set_rdev, (archive_entry * e, dev_t rdev), (e, rdev))
// cp and export (runtime/copy.cpp)
CPPCKER_FORWARD(archive_library, archive_read_open_fd, (archive * a, int fd, size_t block), (a, fd, block))
CPPCKER_FORWARD(archive_library, archive_read_support_filter_all, (archive * a), (a))
CPPCKER_FORWARD(archive_library, archive_entry_xattr_add_entry,
                (archive_entry * e, const char* name, const void* value, size_t size), (e, name, value, size))

// ---- libcrypto (sha256)
CPPCKER_FORWARD(crypto_library, EVP_sha256, (void), ())
CPPCKER_FORWARD(crypto_library, EVP_MD_CTX_new, (void), ())
CPPCKER_FORWARD(crypto_library, EVP_MD_CTX_free, (EVP_MD_CTX * ctx), (ctx))
CPPCKER_FORWARD(crypto_library, EVP_DigestInit_ex, (EVP_MD_CTX * ctx, const EVP_MD* type, ENGINE* engine),
                (ctx, type, engine))
CPPCKER_FORWARD(crypto_library, EVP_DigestUpdate, (EVP_MD_CTX * ctx, const void* data, size_t size), (ctx, data, size))
CPPCKER_FORWARD(crypto_library, EVP_DigestFinal_ex, (EVP_MD_CTX * ctx, unsigned char* md, unsigned int* size),
                (ctx, md, size))

// ---- libnftables (published ports and masquerade; brings libnftnl, libmnl, libjansson, libgmp, ...)
CPPCKER_FORWARD(nftables_library, nft_ctx_new, (uint32_t flags), (flags))
CPPCKER_FORWARD(nftables_library, nft_ctx_free, (nft_ctx * ctx), (ctx))
CPPCKER_FORWARD(nftables_library, nft_ctx_buffer_output, (nft_ctx * ctx), (ctx))
CPPCKER_FORWARD(nftables_library, nft_ctx_buffer_error, (nft_ctx * ctx), (ctx))
CPPCKER_FORWARD(nftables_library, nft_ctx_get_output_buffer, (nft_ctx * ctx), (ctx))
CPPCKER_FORWARD(nftables_library, nft_ctx_get_error_buffer, (nft_ctx * ctx), (ctx))
CPPCKER_FORWARD(nftables_library, nft_run_cmd_from_buffer, (nft_ctx * ctx, const char* buf), (ctx, buf))
CPPCKER_FORWARD(nftables_library, nft_ctx_output_get_flags, (nft_ctx * ctx), (ctx))
CPPCKER_FORWARD(nftables_library, nft_ctx_output_set_flags, (nft_ctx * ctx, unsigned int flags), (ctx, flags))

// ---- libseccomp (compiling a seccomp profile once; the container start installs the cached program without it)
CPPCKER_FORWARD(seccomp_library, seccomp_init, (uint32_t def_action), (def_action))
CPPCKER_FORWARD(seccomp_library, seccomp_release, (scmp_filter_ctx ctx), (ctx))
CPPCKER_FORWARD(seccomp_library, seccomp_attr_set, (scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value),
                (ctx, attr, value))
CPPCKER_FORWARD(seccomp_library, seccomp_arch_add, (scmp_filter_ctx ctx, uint32_t arch_token), (ctx, arch_token))
CPPCKER_FORWARD(seccomp_library, seccomp_syscall_resolve_name, (const char* name), (name))
CPPCKER_FORWARD(seccomp_library, seccomp_rule_add_array,
                (scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt,
                 const scmp_arg_cmp* arg_array),
                (ctx, action, syscall, arg_cnt, arg_array))
CPPCKER_FORWARD(seccomp_library, seccomp_export_bpf, (const scmp_filter_ctx ctx, int fd), (ctx, fd))

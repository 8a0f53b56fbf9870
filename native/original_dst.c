/*
 * originalDestination(fd): the address a TCP connection was sent to before iptables NAT
 * (DNAT / REDIRECT) rewrote it, read with getsockopt(SO_ORIGINAL_DST). Node has no API for
 * it. Returns {address, port} or undefined when the connection was not NATed (the kernel
 * then reports ENOENT); throws on other errors.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter_ipv4.h>
#include <netinet/in.h>
#include <node_api.h>
#include <string.h>
#include <sys/socket.h>

static napi_value original_destination(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_value result;
  int32_t fd;
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  char text[INET_ADDRSTRLEN];
  napi_value address;
  napi_value port;

  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, NULL, "originalDestination(fd): fd must be a number");
    return NULL;
  }
  memset(&addr, 0, sizeof(addr));
  if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &addr, &len) != 0) {
    if (errno == ENOENT) {
      napi_get_undefined(env, &result);
      return result;
    }
    napi_throw_error(env, NULL, strerror(errno));
    return NULL;
  }
  inet_ntop(AF_INET, &addr.sin_addr, text, sizeof(text));
  napi_create_object(env, &result);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &address);
  napi_create_uint32(env, ntohs(addr.sin_port), &port);
  napi_set_named_property(env, result, "address", address);
  napi_set_named_property(env, result, "port", port);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "originalDestination", NAPI_AUTO_LENGTH, original_destination, NULL, &fn);
  napi_set_named_property(env, exports, "originalDestination", fn);
  return exports;
}

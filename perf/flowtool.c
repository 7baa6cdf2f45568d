/* Small TCP peers for perf/run.sh (C, so that the helper is not the
 * bottleneck it would be in Python on a 2-core machine). perf/run.sh compiles
 * it with `cc -O2` into its scratch folder.
 *
 *   flowtool serve ADDR PORT
 *       epoll server: for each connection, reads a request (any bytes), writes
 *       a 64-byte reply and closes (the server closes first, so TIME_WAIT
 *       stays on the server side and the client's ports do not run out);
 *       connections that send nothing are simply held (used for `hold`).
 *       Runs until killed.
 *   flowtool crr ADDR PORT SECS
 *       connect + 64-byte request + read the reply to EOF + close, in a loop
 *       for SECS seconds; prints "<completed per second> <errors>". An error
 *       (refused, unreachable, timeout) is counted and the loop goes on after
 *       1 ms; a connect waits at most 2 s.
 *   flowtool hold ADDR PORT N SECS
 *       opens N connections one after another (each bounded to 2 s) and holds
 *       them; prints "open <n>" once all are open or the first fails, then
 *       sleeps until SECS have passed since start or it is killed.
 * Every loop is bounded in time; errors go to stderr, exit status 1 on
 * wrong usage. Traffic goes only to the address given (loopback or the
 * gateway address of a test container).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct sockaddr_in addr_of(const char* a, const char* p) {
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((unsigned short)atoi(p));
  if (inet_pton(AF_INET, a, &sa.sin_addr) != 1) {
    fprintf(stderr, "flowtool: bad IPv4 address %s\n", a);
    exit(1);
  }
  return sa;
}

/* A blocking connect bounded to 2 s; returns the socket or -1. */
static int connect_to(const struct sockaddr_in* sa) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (const struct sockaddr*)sa, sizeof *sa) < 0) {
    if (errno != EINPROGRESS) goto fail;
    struct pollfd p = {fd, POLLOUT, 0};
    if (poll(&p, 1, 2000) != 1) goto fail;
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) goto fail;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
fail:
  close(fd);
  return -1;
}

static int serve(const char* a, const char* p) {
  struct sockaddr_in sa = addr_of(a, p);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr*)&sa, sizeof sa) < 0 || listen(ls, 4096) < 0) {
    perror("flowtool serve: bind/listen");
    return 1;
  }
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
  char buf[4096], reply[64];
  memset(reply, 'r', sizeof reply);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; ++i) {
      int fd = evs[i].data.fd;
      if (fd == ls) {
        for (int k = 0; k < 256; ++k) {
          int c = accept4(ls, NULL, NULL, SOCK_NONBLOCK);
          if (c < 0) break;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event ce = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
        }
        continue;
      }
      ssize_t r = read(fd, buf, sizeof buf);
      if (r > 0) {
        if (write(fd, reply, sizeof reply) < 0) { /* the client went away */ }
      } else if (r < 0 && errno == EAGAIN) {
        continue;
      }
      close(fd); /* replied, EOF or error: the server closes first */
    }
  }
}

static int crr(const char* a, const char* p, double secs) {
  struct sockaddr_in sa = addr_of(a, p);
  char req[64], buf[256];
  memset(req, 'q', sizeof req);
  long done = 0, errors = 0;
  double t0 = now_s(), t;
  while ((t = now_s()) - t0 < secs) {
    int fd = connect_to(&sa);
    int ok = 0;
    if (fd >= 0) {
      if (write(fd, req, sizeof req) == (ssize_t)sizeof req) {
        size_t got = 0;
        ssize_t r;
        while ((r = read(fd, buf, sizeof buf)) > 0) got += (size_t)r;
        ok = r == 0 && got == 64;
      }
      close(fd);
    }
    if (ok) {
      ++done;
    } else {
      ++errors;
      usleep(1000);
    }
  }
  printf("%.0f %ld\n", (double)done / (t - t0), errors);
  return 0;
}

static int hold(const char* a, const char* p, long n, double secs) {
  struct sockaddr_in sa = addr_of(a, p);
  double t0 = now_s();
  long open = 0;
  for (; open < n && now_s() - t0 < secs; ++open) {
    if (connect_to(&sa) < 0) {
      fprintf(stderr, "flowtool hold: connection %ld failed: %s\n", open + 1, strerror(errno));
      break;
    }
  }
  printf("open %ld\n", open);
  fflush(stdout);
  while (now_s() - t0 < secs) usleep(100000);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 4 && !strcmp(argv[1], "serve")) return serve(argv[2], argv[3]);
  if (argc == 5 && !strcmp(argv[1], "crr")) return crr(argv[2], argv[3], atof(argv[4]));
  if (argc == 6 && !strcmp(argv[1], "hold")) return hold(argv[2], argv[3], atol(argv[4]), atof(argv[5]));
  fprintf(stderr,
          "usage: flowtool serve ADDR PORT | crr ADDR PORT SECS | hold ADDR PORT N SECS\n");
  return 1;
}

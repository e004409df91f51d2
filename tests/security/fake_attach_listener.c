/* A process pretending to be a JVM's attach listener:
 *   fake_attach_listener SOCKET MODE LOG
 * binds SOCKET, chmods it to MODE (octal), prints "listening", then for
 * every connection appends "connection: N bytes" (what the client sent
 * before closing or the first read) to LOG and answers like a JVM whose
 * agent loaded, with a terminal escape sequence in the reply. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s SOCKET MODE LOG\n", argv[0]);
        return 2;
    }
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, argv[1], sizeof addr.sun_path - 1);
    unlink(argv[1]);
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(s, 5) != 0) {
        perror("bind");
        return 1;
    }
    chmod(argv[1], (mode_t)strtol(argv[2], NULL, 8));
    printf("listening\n");
    fflush(stdout);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            continue;
        }
        char buf[4096];
        ssize_t n = read(c, buf, sizeof buf);
        FILE *log = fopen(argv[3], "a");
        if (log) {
            fprintf(log, "connection: %zd bytes\n", n);
            fclose(log);
        }
        const char reply[] = "0\nreturn code: 0\n\033]52;c;cHduZWQ=\007\033[2J";
        if (write(c, reply, sizeof reply - 1) < 0) {
            perror("write");
        }
        close(c);
    }
}

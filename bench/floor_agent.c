/*
 * The floor of metascope's technique: the least a JVMTI agent can do to
 * know the defining stack of every class. On VMInit it enables ClassLoad;
 * each ClassLoad calls GetStackTrace (depth 64, into a stack buffer) and
 * throws the frames away. No classification, no tagging, no queue, no I/O.
 *
 * Options (for the cost breakdown in docs/performance.md):
 *   (none)   ClassLoad + GetStackTrace(64)        -- the floor
 *   cflh     as above, plus an empty ClassFileLoadHook enabled at VMInit
 *            (metascope enables that hook too; the JVM then hands every
 *            non-hidden class's bytes to the agent)
 *   nostack  ClassLoad enabled, callback does nothing (event delivery only)
 *   sig      ClassLoad enabled, callback calls GetClassSignature and
 *            deallocates it (the least an agent must do to know a class)
 *   prepare  also an empty ClassPrepare callback enabled at VMInit
 *
 * Built by the benchmark: cc -O2 -shared -fPIC -I$JAVA_HOME/include
 *   -I$JAVA_HOME/include/linux bench/floor_agent.c -o target/bench-cache/...
 */
#include <string.h>
#include <jvmti.h>

#define FLOOR_DEPTH 64

static int with_stack = 1;
static int with_cflh = 0;
static int with_signature = 0;
static int with_prepare = 0;
static volatile long frames_seen; /* keeps the stack walk from looking dead */

static void JNICALL on_class_load(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread, jclass klass) {
    (void)jni; (void)thread;
    if (with_signature) {
        char *sig = NULL;
        if ((*jvmti)->GetClassSignature(jvmti, klass, &sig, NULL) == JVMTI_ERROR_NONE) {
            frames_seen += sig[0];
            (*jvmti)->Deallocate(jvmti, (unsigned char *)sig);
        }
        return;
    }
    if (!with_stack) {
        return;
    }
    jvmtiFrameInfo frames[FLOOR_DEPTH];
    jint count = 0;
    if ((*jvmti)->GetStackTrace(jvmti, NULL, 0, FLOOR_DEPTH, frames, &count) == JVMTI_ERROR_NONE) {
        frames_seen += count;
    }
}

static void JNICALL on_class_file_load_hook(jvmtiEnv *jvmti, JNIEnv *jni, jclass being_redefined,
                                            jobject loader, const char *name,
                                            jobject protection_domain, jint len,
                                            const unsigned char *data, jint *new_len,
                                            unsigned char **new_data) {
    (void)jvmti; (void)jni; (void)being_redefined; (void)loader; (void)name;
    (void)protection_domain; (void)len; (void)data; (void)new_len; (void)new_data;
}

static void JNICALL on_class_prepare(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread, jclass klass) {
    (void)jvmti; (void)jni; (void)thread; (void)klass;
}

static void JNICALL on_vm_init(jvmtiEnv *jvmti, JNIEnv *jni, jthread thread) {
    (void)jni; (void)thread;
    (*jvmti)->SetEventNotificationMode(jvmti, JVMTI_ENABLE, JVMTI_EVENT_CLASS_LOAD, NULL);
    if (with_cflh) {
        (*jvmti)->SetEventNotificationMode(jvmti, JVMTI_ENABLE,
                                           JVMTI_EVENT_CLASS_FILE_LOAD_HOOK, NULL);
    }
    if (with_prepare) {
        (*jvmti)->SetEventNotificationMode(jvmti, JVMTI_ENABLE, JVMTI_EVENT_CLASS_PREPARE, NULL);
    }
}

JNIEXPORT jint JNICALL Agent_OnLoad(JavaVM *vm, char *options, void *reserved) {
    (void)reserved;
    if (options != NULL) {
        with_cflh = strstr(options, "cflh") != NULL;
        with_stack = strstr(options, "nostack") == NULL;
        with_signature = strstr(options, "sig") != NULL;
        with_prepare = strstr(options, "prepare") != NULL;
    }
    jvmtiEnv *jvmti = NULL;
    if ((*vm)->GetEnv(vm, (void **)&jvmti, JVMTI_VERSION_1_2) != JNI_OK || jvmti == NULL) {
        return JNI_ERR;
    }
    jvmtiEventCallbacks callbacks;
    memset(&callbacks, 0, sizeof callbacks);
    callbacks.VMInit = &on_vm_init;
    callbacks.ClassLoad = &on_class_load;
    callbacks.ClassFileLoadHook = &on_class_file_load_hook;
    callbacks.ClassPrepare = &on_class_prepare;
    if ((*jvmti)->SetEventCallbacks(jvmti, &callbacks, (jint)sizeof callbacks) != JVMTI_ERROR_NONE) {
        return JNI_ERR;
    }
    if ((*jvmti)->SetEventNotificationMode(jvmti, JVMTI_ENABLE, JVMTI_EVENT_VM_INIT, NULL)
        != JVMTI_ERROR_NONE) {
        return JNI_ERR;
    }
    return JNI_OK;
}

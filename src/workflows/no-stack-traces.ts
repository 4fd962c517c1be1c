/**
 * Preloaded once into the worker's reusable workflow context, before the SDK freezes its globals
 * (bundler `preloadModules`; see src/worker/workflow-bundle.ts).
 *
 * The SDK captures a stack trace for every promise that workflow code creates, only to answer the
 * `__stack_trace` query (the Web UI's "Call Stack" tab, `temporal workflow stack`). With no frames
 * to capture that costs almost nothing: about an eighth of the worker's CPU per event (see the
 * README's performance section). The price: that query answers with no frame, and errors
 * thrown in workflow code carry no stack. WORKER_WORKFLOW_STACK_TRACES=true loads the bundle
 * without this module.
 */
Error.stackTraceLimit = 0;

export {};

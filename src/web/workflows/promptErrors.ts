// A prompt the server refused (HTTP 400 from POST /prompt, ComfyUI's body: `error` plus `node_errors`),
// said in words about painting: the missing model and where to put it first, then the server's own
// message, never a stack trace.

interface NodeError {
  type?: string;
  message?: string;
  details?: string;
  extra_info?: { input_name?: string; received_value?: unknown };
}

export function explainPromptError(body: unknown): string {
  const b = (body ?? {}) as { error?: { type?: string; message?: string }; node_errors?: Record<string, { class_type?: string; errors?: NodeError[] }> };
  const nodeErrors = b.node_errors && typeof b.node_errors === 'object' ? Object.values(b.node_errors) : [];
  for (const ne of nodeErrors) {
    for (const err of ne?.errors ?? []) {
      const input = err.extra_info?.input_name ?? String(err.details ?? '').split(/[:,\s]/)[0];
      const received = err.extra_info?.received_value;
      const notInList = err.type === 'value_not_in_list';
      if (notInList && (input === 'ckpt_name' || ne.class_type === 'CheckpointLoaderSimple')) {
        return received ? `the checkpoint "${String(received)}" is not installed: put it in models/checkpoints` : 'no checkpoint is installed: put a .safetensors file in models/checkpoints';
      }
      if (notInList && input === 'lora_name') return `the LoRA "${String(received ?? '')}" is not installed: put it in models/loras (or clear it from the character)`;
      if (notInList && input === 'control_net_name') return `the ControlNet "${String(received ?? '')}" is not installed: put it in models/controlnet`;
      if ((notInList && input === 'image') || /invalid image file/i.test(String(err.details ?? ''))) return 'a picture sent to the server is not there any more; try again';
    }
  }
  const first = nodeErrors.flatMap((ne) => (ne?.errors ?? []).map((e) => ({ e, node: ne.class_type })))[0];
  if (first) return `the server cannot run this${first.node ? ` (${first.node})` : ''}: ${first.e.message ?? 'invalid input'}${first.e.details ? ` — ${first.e.details}` : ''}`;
  if (b.error?.type === 'invalid_prompt' && /does not exist/i.test(String(b.error.message))) {
    return `this server does not have a tool this needs (${b.error.message}); it may be an older inkflow or plain ComfyUI`;
  }
  if (b.error?.message) return `the server refused the job: ${b.error.message}`;
  return 'the server refused the job and gave no reason';
}

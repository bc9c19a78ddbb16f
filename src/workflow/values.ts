// The values that flow between image nodes (ComfyUI's IMAGE and MASK tensors) live in imaging, so
// pipelines can take them too.
export * from '../imaging/tensorBatch.ts';

// What a diffusion model's output means: the noise (ε) or the velocity v = α·ε − σ·x0. It is a fact about
// the trained weights, so the checkpoint reports it and the sampling layer reads it.
export type PredictionType = 'eps' | 'v_prediction';

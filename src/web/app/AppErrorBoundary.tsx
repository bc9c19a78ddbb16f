// A bug in the studio shows what happened and how to get back — never a blank page. The comic itself is
// safe: every change was already autosaved to the server.
import { Component } from 'react';
import type { ReactNode } from 'react';

export class AppErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  override state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <div className="centre error-page" role="alert">
        <h2>Something went wrong in the studio</h2>
        <p>{this.state.error.message}</p>
        <p>Your comic was autosaved up to the last change. Reload the page to continue.</p>
        <button onClick={() => location.reload()}>Reload</button>
      </div>
    );
  }
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"mpg/engine"
)

// accountConfirmCmd sets how a subscriber confirms payments waiting for his YES: by a
// phone call keyed with his PIN, or by a code texted (what CONFIRM VOICE|SMS does by SMS).
func (a *app) accountConfirmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "confirm <msisdn> [voice|sms]",
		Short: "How the subscriber confirms payments: by a phone call (voice) or a texted code (sms); alone, shows it and the last call",
		Example: `  mpg account confirm 0612345678 voice
  mpg account confirm 0612345678`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.onSubscriber(args[0], func(l store, eng *engine.Engine, msisdn string) error {
				if len(args) == 2 {
					if args[1] != "voice" && args[1] != "sms" {
						return fmt.Errorf("confirm: want voice or sms, not %q", args[1])
					}
					if err := eng.SetConfirmBy(cmd.Context(), a.actor(), msisdn, args[1] == "voice"); err != nil {
						return err
					}
				}
				by, state, err := eng.ConfirmCall(msisdn)
				if err != nil {
					return err
				}
				if state == "" {
					state = "none"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: confirms by %s; last call: %s\n", msisdn, by, state)
				return nil
			})
		},
	}
}

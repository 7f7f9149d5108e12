package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"mpg/smpp"
)

func (a *app) smscCmd() *cobra.Command {
	var listen, httpAddr, systemID, password string
	c := &cobra.Command{
		Use:   "smsc",
		Short: "Run the SMSC simulator: an SMPP server with simulated phones",
		Long: `smsc runs an SMPP 3.4 server for the demo, tests and benchmarks. ESMEs bind to it with
--system-id and --password; simulated phones text through its local HTTP interface:
  POST /mo  {"from":"+33612345678","to":"1234","text":"BAL 1234"}   deliver an MO
  GET  /mt?phone=+33612345678                                       texts that phone received`,
		Example: "  mpg smsc --listen 127.0.0.1:2775 --http 127.0.0.1:2776 --system-id mpg --password secret",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sim, err := smpp.NewSim(listen, systemID, password)
			if err != nil {
				return err
			}
			defer sim.Close()
			ln, err := net.Listen("tcp", httpAddr)
			if err != nil {
				return err
			}
			srv := &http.Server{Handler: simHandler(sim), ReadHeaderTimeout: 5 * time.Second}
			go srv.Serve(ln)
			a.log.Info("smsc simulator running", zap.String("smpp", sim.Addr()), zap.String("http", ln.Addr().String()))
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			return srv.Shutdown(sctx)
		},
	}
	c.Flags().StringVar(&listen, "listen", "127.0.0.1:2775", "SMPP address")
	c.Flags().StringVar(&httpAddr, "http", "127.0.0.1:2776", "local HTTP interface for simulated phones")
	c.Flags().StringVar(&systemID, "system-id", "mpg", "system_id ESMEs must bind with")
	c.Flags().StringVar(&password, "password", "secret", "password ESMEs must bind with")
	return c
}

// simHandler is the simulator's local interface for phones.
func simHandler(sim *smpp.Sim) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /mo", func(w http.ResponseWriter, r *http.Request) {
		var mo struct{ From, To, Text string }
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&mo); err != nil || mo.From == "" || mo.To == "" {
			http.Error(w, "want JSON {from, to, text}", http.StatusBadRequest)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		st, err := sim.SendMO(ctx, mo.From, mo.To, mo.Text)
		switch {
		case errors.Is(err, smpp.ErrNoReceiver):
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadGateway)
		default:
			json.NewEncoder(w).Encode(map[string]string{"status": fmt.Sprint(st)})
		}
	})
	mux.HandleFunc("GET /mt", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(sim.MT(r.URL.Query().Get("phone")))
	})
	return mux
}
